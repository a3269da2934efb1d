"""Complete, realistic runs written straight into a RunStore, without TensorFlow.

``make_run(store_root, cell="gru", seed=1)`` gives a run whose every file follows the run-store table of docs/ARCHITECTURE.md
(spec, status, metrics, gradients through time, probe, predictions, summary with checksums,
a few placeholder bytes for model.keras), so pages and comparisons can be tested in
milliseconds. Everything is drawn from a numpy generator seeded by (cell, seed): same
arguments, same files.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import CELLS, RunSpec
from core.evaluation import directional_accuracy, lag_check, naive_tests, price_metrics
from core.models import GATES, param_count  # importing core.models loads no keras
from core.runs import RunStore, process_identity

N_DAYS = 260  # one trading year: enough rows for every split at small lookbacks
MODEL_BYTES = b"not a real keras model: placeholder written by tests/fakes.py\n"
# Per-step gradient decay through time: SimpleRNN vanishes fast, the gated cells slowly.
DECAY = {"lstm": 0.92, "gru": 0.88, "rnn": 0.55}


def fake_prices(n: int = N_DAYS, seed: int = 0) -> pd.DataFrame:
    """A geometric random walk of business days, shaped like core.data.load_prices output."""
    rng = np.random.default_rng([seed, 7])
    close = 1000.0 * np.exp(np.cumsum(rng.normal(2e-4, 0.01, n)))
    index = pd.bdate_range("2015-01-02", periods=n, name="date")
    df = pd.DataFrame({"close": close}, index=index)
    df.attrs.update(source="sample", ticker="^GSPC", notes=[])
    return df


def _fingerprint(df: pd.DataFrame) -> str:
    h = hashlib.sha256(df.index.asi8.tobytes())
    h.update(df["close"].to_numpy(dtype=np.float64).tobytes())
    return h.hexdigest()


def _rng(cell: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([CELLS.index(cell), seed, 11])


def _metric_row(cell: str, epoch: int, rng: np.random.Generator) -> dict:
    loss = 1.0 * 0.85**epoch * (1 + 0.05 * rng.standard_normal())
    g = 0.5 * 0.9**epoch * (1 + 0.1 * abs(rng.standard_normal()))
    norms = {"global": {"mean": g, "max": 3 * g}}
    norms["rnn_0"] = {"mean": 0.8 * g, "max": 2.5 * g}
    norms["head"] = {"mean": 0.4 * g, "max": 1.2 * g}
    # As core.training reports it: ρ per gate block, and per layer the max over its blocks.
    blocks = {g: 0.9 + 0.02 * epoch + 0.01 * rng.standard_normal() for g in GATES[cell]}
    return {
        "epoch": epoch,
        "loss": loss,
        "val_loss": loss * 1.1 + 0.02,
        "seconds": 0.5 + 0.1 * rng.random(),
        "lr": 1e-3,
        "grad_norm": norms,
        "clipped_fraction": 0.0,
        "spectral_radius": {"rnn_0": max(blocks.values())},
        "spectral_radius_blocks": {"rnn_0": blocks},
    }


def _gtt(cell: str, epochs: int, T: int, rng: np.random.Generator) -> dict:
    lags = np.arange(T)
    norms = [
        (1e-2 * DECAY[cell] ** lags * (1 + 0.05 * rng.standard_normal(T)) * 0.95**e).tolist()
        for e in range(epochs + 1)
    ]
    # Epoch 0 is the probe before training, as core.training records it.
    return {"lags": lags.tolist(), "epochs": list(range(epochs + 1)), "norms": norms}


def _predictions(prices: pd.DataFrame, T: int, rng: np.random.Generator) -> pd.DataFrame:
    """Chronological train 70% | val 15% | test 15% of the days after the first window."""
    close = prices["close"].to_numpy()
    t = np.arange(T, len(close))  # index of the target day t+1
    last, actual = close[t - 1], close[t]
    actual_return = np.log(actual / last)
    predicted_return = 0.3 * actual_return + rng.normal(0, 0.008, len(t))
    n = len(t)
    cut1, cut2 = int(n * 0.70), int(n * 0.85)
    split = np.array(["train"] * cut1 + ["val"] * (cut2 - cut1) + ["test"] * (n - cut2))
    return pd.DataFrame(
        {
            "date": prices.index[t],
            "split": split,
            "actual_price": actual,
            "predicted_price": last * np.exp(predicted_return),
            "naive_price": last,
            "actual_return": actual_return,
            "predicted_return": predicted_return,
        }
    )


def _test_metrics(pred: pd.DataFrame) -> dict:
    test = pred[pred["split"] == "test"]
    a, p, naive = (test[c].to_numpy() for c in ("actual_price", "predicted_price", "naive_price"))
    ra, rp = test["actual_return"].to_numpy(), test["predicted_return"].to_numpy()
    out = price_metrics(a, p, naive)
    return_rmse = float(np.sqrt(np.mean((rp - ra) ** 2)))
    naive_return_rmse = float(np.sqrt(np.mean(ra**2)))
    out.update(
        return_rmse=return_rmse,
        naive_return_rmse=naive_return_rmse,
        return_skill=1 - return_rmse / naive_return_rmse,
        directional_accuracy=directional_accuracy(ra, rp),
        lag_check=lag_check(p, a, naive),
        n=len(test),
    )
    out.update(naive_tests(a, p, naive, ra, rp))  # what core.worker writes since issue 13
    return out


def _write_model(store: RunStore, rid: str) -> None:
    with store.atomic_path(store.model_path(rid)) as tmp:
        Path(tmp).write_bytes(MODEL_BYTES)


def _finish(store: RunStore, rid: str, spec: RunSpec, epochs: int, pred: pd.DataFrame) -> None:
    """What core.worker writes after a finished fit: predictions, model, then the summary."""
    store.write_predictions(rid, pred)
    _write_model(store, rid)
    n_windows = pred["split"].value_counts().to_dict()
    store.write_summary(
        rid,
        {
            "run_id": rid,
            "metrics": _test_metrics(pred),
            # the real builder's count (tests/test_models.py checks param_count against Keras)
            "params": param_count(spec.model, len(spec.data.features)),
            "train_seconds": 0.6 * epochs,
            "samples_per_second": 1500.0,
            "best_epoch": epochs,
            "epochs_run": epochs,
            "device": "CPU",
            "mixed_precision": False,
            "cudnn_eligible": True,
            "cudnn_reasons": [],
            "n_windows": {k: int(n_windows.get(k, 0)) for k in ("train", "val", "test")},
            "finished": "2024-01-01T00:01:00",
        },
    )


def make_run(
    store_root: str | os.PathLike[str],
    cell: str = "lstm",
    seed: int = 0,
    epochs: int = 5,
    T: int = 10,
    state: str = "done",
    ticker: str = "^GSPC",
) -> str:
    """Write one run into the store at store_root and return its id.

    state: done (complete, is_complete is True), diverged (every epoch's metrics but, as in
    core.worker, no predictions, model or summary),
    running (half the epochs, this process as the live worker), queued (spec and status only),
    failed or cancelled (half the epochs, no predictions or summary).
    """
    store = RunStore(store_root)
    prices = fake_prices()
    spec = RunSpec().replace(cell=cell, seed=seed, epochs=epochs, lookback=T, ticker=ticker)
    spec.validate()
    rid = store.create(spec, store.save_prices(prices, fp=_fingerprint(prices)))
    if state == "queued":
        store.write_status(rid, **process_identity())
        return rid
    rng = _rng(cell, seed)
    done_epochs = epochs if state in ("done", "diverged") else max(1, epochs // 2)
    store.write_probe(rid, rng.standard_normal((8, T, 1)), rng.standard_normal(8))
    for epoch in range(1, done_epochs + 1):
        row = _metric_row(cell, epoch, rng)
        if state == "diverged" and epoch == done_epochs:
            row.update(loss=None, val_loss=None)  # non-finite losses are stored as null
        store.append_metrics(rid, row)
    store.write_json(rid, "gradients_through_time.json", _gtt(cell, done_epochs, T, rng))
    common = {
        "epoch": done_epochs,
        "epochs": epochs,
        "device": "CPU",
        "started": "2024-01-01T00:00:00",
    }
    if state == "running":
        store.write_status(rid, state="running", **common, **process_identity())
        return rid
    if state == "done":
        _finish(store, rid, spec, done_epochs, _predictions(prices, T, rng))
    error = {
        "failed": "fake failure: out of memory",
        "cancelled": "cancelled by the user",
        "diverged": "training diverged (the loss became NaN or infinite): lower the learning rate",
    }
    store.write_status(
        rid, state=state, finished="2024-01-01T00:01:00", error=error.get(state), **common
    )
    return rid


def run_fresh_python(code: str, args: list[str], env: dict, timeout: int) -> str:
    """`python -c code args` in a fresh interpreter at the repo root; its stdout, after
    asserting exit 0 (the child's stderr tail is the failure message)."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout
