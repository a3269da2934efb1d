"""core.compare, the one comparison engine: seed averaging, Holm, verdicts, and the CLI's
report, including walk-forward folds (issue 13)."""

import json

import numpy as np
import pandas as pd
import pytest

from core import compare
from core.config import RunSpec
from core.runs import RunStore

DATES = pd.bdate_range("2020-01-01", periods=80, name="date")


def test_holm_by_hand():
    # Sorted p: 0.01, 0.02, 0.04 → 3·0.01, max(0.03, 2·0.02), max(0.04, 1·0.04).
    assert compare.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert compare.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert compare.holm([0.003]) == [0.003]


def _frame(predicted_return: np.ndarray, actual_return: np.ndarray) -> pd.DataFrame:
    last = 100 * np.exp(np.cumsum(np.r_[0, actual_return[:-1]]))
    return pd.DataFrame(
        {
            "date": DATES[: len(actual_return)],
            "split": "test",
            "actual_price": last * np.exp(actual_return),
            "predicted_price": last * np.exp(predicted_return),
            "naive_price": last,
            "actual_return": actual_return,
            "predicted_return": predicted_return,
        }
    )


def _store_runs(store: RunStore, errors: dict[str, list[float]]) -> dict[str, list[str]]:
    """One fake finished run per (cell, error scale): predicted = actual + scale · noise."""
    rng = np.random.default_rng(0)
    actual = rng.normal(0, 0.01, len(DATES))
    runs: dict[str, list[str]] = {}
    for cell, scales in errors.items():
        for seed, scale in enumerate(scales):
            rid = store.create(RunSpec().replace(cell=cell, seed=seed), "ef" * 32)
            store.write_predictions(rid, _frame(actual + scale * rng.normal(0, 0.01, 80), actual))
            store.model_path(rid).write_bytes(b"m")
            store.write_summary(rid, {"metrics": {"rmse": scale}, "params": 7})
            store.write_status(rid, state="done")
            runs.setdefault(cell, []).append(rid)
    return runs


def test_seed_forecast_averages_predictions_on_common_dates():
    a = _frame(np.full(80, 0.01), np.zeros(80))
    b = _frame(np.full(80, 0.03), np.zeros(80)).iloc[5:]
    fc = compare.seed_forecast([a, b])
    assert len(fc) == 75 and fc.index[0] == DATES[5]
    assert fc["predicted_return"].to_numpy() == pytest.approx(0.02)


def test_every_cell_losing_to_naive_is_said(store_root):
    store = RunStore()
    report = compare.compare(store, _store_runs(store, {"lstm": [3.0, 3.0], "gru": [2.0, 2.0]}))
    assert all(r["skill"] < 0 for r in report["vs_naive"])
    assert report["verdict"].startswith("Every cell lost to the naive forecast")
    (pair,) = report["pairs"]
    assert set(pair) >= {"a", "b", "stat", "p_value", "p_holm", "verdict"}
    assert pair["p_holm"] == pytest.approx(pair["p_value"])  # one pair: nothing to adjust
    assert report["errors"] == "return" and report["naive"]["n"] == 80
    json.dumps(report, allow_nan=False)


def test_pairs_are_holm_adjusted_and_a_real_difference_is_named(store_root):
    store = RunStore()
    runs = _store_runs(store, {"lstm": [0.1], "gru": [0.1], "rnn": [3.0]})
    report = compare.compare(store, runs)
    holm = compare.holm([p["p_value"] for p in report["pairs"]])
    assert [p["p_holm"] for p in report["pairs"]] == pytest.approx(holm)
    by = {(p["a"], p["b"]): p for p in report["pairs"]}
    assert by[("lstm", "rnn")]["verdict"].startswith("LSTM better")
    assert by[("lstm", "gru")]["verdict"].startswith("no significant difference")
    assert "Holm" in by[("lstm", "gru")]["verdict"]
    assert "Significant after Holm" in report["verdict"]
    winners = {r["cell"] for r in report["vs_naive"] if r["verdict"].startswith("beats")}
    assert winners == {"lstm", "gru"}


def test_price_errors_are_an_option(store_root):
    store = RunStore()
    runs = _store_runs(store, {"lstm": [0.5], "gru": [1.0]})
    ret, price = compare.compare(store, runs), compare.compare(store, runs, errors="price")
    assert price["errors"] == "price" and ret["pairs"][0]["stat"] != price["pairs"][0]["stat"]


def test_memory_task_frames_use_the_baseline_as_the_naive_forecast(store_root):
    store = RunStore()
    rng = np.random.default_rng(1)
    actual = rng.normal(0, 1, 60)
    runs: dict[str, list[str]] = {}
    for seed, (cell, noise) in enumerate([("lstm", 0.1), ("rnn", 1.0)]):
        spec = RunSpec().replace(source="task", lookback=50, cell=cell, seed=seed)
        rid = store.create(spec, "ab" * 32)
        frame = pd.DataFrame({"sample": np.arange(60), "split": "test", "actual": actual,
                              "predicted": actual + noise * rng.normal(0, 1, 60),
                              "baseline": np.full(60, 0.05)})  # fmt: skip
        store.write_predictions(rid, frame)
        store.model_path(rid).write_bytes(b"m")
        store.write_summary(rid, {"metrics": {"skill": 0.5}, "params": 7})
        store.write_status(rid, state="done")
        runs[cell] = [rid]
    report = compare.compare(store, runs)
    skills = {r["cell"]: r["skill"] for r in report["vs_naive"]}
    naive_mse = np.mean((0.05 - actual) ** 2)
    e_lstm = store.predictions(runs["lstm"][0])["predicted"].to_numpy() - actual
    # the task's own skill (core.tasks): 1 − MSE/MSE_baseline, the same number as its card
    assert skills["lstm"] == pytest.approx(1 - np.mean(e_lstm**2) / naive_mse)
    assert "the training mean" in report["vs_naive"][0]["verdict"]
    assert "tomorrow" not in report["verdict"]
    assert report["pairs"][0]["verdict"].startswith("LSTM better")
