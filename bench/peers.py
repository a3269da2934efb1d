"""Peer contenders for bench/run.py: Darts BlockRNNModel and a raw PyTorch nn.LSTM/GRU loop.

Runs in .bench-venv's python (torch CPU + darts, see bench/requirements-bench.txt), never in
the app's environment. Usage:
  python bench/peers.py --data windows.npz --serve     one JSON request per stdin line
  python bench/peers.py --data windows.npz --peer darts --cell lstm --epochs 2
Each request {"peer": "darts"|"torch", "cell": "lstm"|"gru", "epochs": n} is answered with
one JSON line {"sps", "cpu_sps", "epoch_sps", "seconds", ...}; the serving process stays warm
so bench/run.py can alternate ours/theirs without paying torch's import each time.

The task equals ours: windows of T=60 standardised ^GSPC log returns, one feature, two
stacked layers of 64 units, the last hidden state into Linear(1), MSE, Adam 1e-3, batch 64,
float32, shuffled, validation on the same validation windows after every epoch.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings

import numpy as np

HIDDEN, LAYERS, BATCH, LR = 64, 2, 64, 1e-3


def series_from_windows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One series whose (T -> 1) windows are exactly x's windows: x[0], then each new day.

    Window i of the series is x[i] because x[i+1] is x[i] shifted by one day; the last target
    is y[-1] (already on the same standardised scale as the inputs for a return target).
    """
    return np.concatenate([x[0, :, 0], x[1:, -1, 0], y[-1:]]).astype(np.float32)


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "darts"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _epoch_timer():
    import pytorch_lightning as pl

    class EpochTimer(pl.Callback):
        """Seconds of each training epoch alone (no trainer setup, no dataset building)."""

        def __init__(self) -> None:
            self.seconds: list[float] = []
            self._t0 = 0.0

        def on_train_epoch_start(self, trainer, module) -> None:
            self._t0 = time.perf_counter()

        def on_train_epoch_end(self, trainer, module) -> None:
            self.seconds.append(time.perf_counter() - self._t0)

    return EpochTimer()


def run_darts(
    data: dict, cell: str, epochs: int, seed: int = 0, hidden: int = HIDDEN, layers: int = LAYERS
) -> dict:
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    train = TimeSeries.from_values(series_from_windows(data["x"], data["y"]))
    val = TimeSeries.from_values(series_from_windows(data["vx"], data["vy"]))
    timer = _epoch_timer()
    model = BlockRNNModel(
        input_chunk_length=data["x"].shape[1],
        output_chunk_length=1,
        model=cell.upper(),
        hidden_dim=hidden,
        n_rnn_layers=layers,
        dropout=0.0,
        batch_size=BATCH,
        n_epochs=epochs,
        optimizer_kwargs={"lr": LR},
        random_state=seed,
        save_checkpoints=False,
        force_reset=True,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
            "enable_checkpointing": False,
            "callbacks": [timer],
        },
    )
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(train, val_series=val, verbose=False)
    return _figures(len(data["x"]), epochs, wall, cpu, timer.seconds)


def run_torch(data: dict, cell: str, epochs: int, seed: int = 0) -> dict:
    """The lower bound of framework overhead: a hand-written loop over nn.LSTM / nn.GRU."""
    import torch

    torch.manual_seed(seed)
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](1, HIDDEN, LAYERS, batch_first=True)
    head = torch.nn.Linear(HIDDEN, 1)
    params = [*rnn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=LR)
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"]).reshape(-1, 1)
    vx, vy = torch.from_numpy(data["vx"]), torch.from_numpy(data["vy"]).reshape(-1, 1)

    def forward(xb: torch.Tensor) -> torch.Tensor:
        out, _ = rnn(xb)  # (B, T, H)
        return head(out[:, -1])  # (B, 1)

    wall, cpu, per_epoch = time.perf_counter(), time.process_time(), []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for idx in torch.randperm(len(x)).split(BATCH):
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(forward(x[idx]), y[idx])
            loss.backward()
            opt.step()
        per_epoch.append(time.perf_counter() - t0)
        with torch.no_grad():
            torch.nn.functional.mse_loss(forward(vx), vy).item()
    return _figures(len(x), epochs, wall, cpu, per_epoch)


def _figures(n: int, epochs: int, wall: float, cpu: float, epoch_seconds: list[float]) -> dict:
    seconds = time.perf_counter() - wall
    best = min(epoch_seconds) if epoch_seconds else None
    return {
        "sps": round(n * epochs / seconds, 1),  # whole fit() call, as ours is timed
        "cpu_sps": round(n * epochs / (time.process_time() - cpu), 1),
        "epoch_sps": round(n / best, 1) if best else None,  # fastest training epoch alone
        "seconds": round(seconds, 3),
        "epochs": epochs,
        "train_windows": n,
    }


def load(path: str) -> dict:
    with np.load(path) as f:
        return {k: np.ascontiguousarray(f[k], dtype=np.float32) for k in ("x", "y", "vx", "vy")}


def versions() -> dict:
    import torch

    out = {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    try:
        import darts

        out["darts"] = darts.__version__
    except ImportError:
        out["darts"] = None
    return out


RUNNERS = {"darts": run_darts, "torch": run_torch}


def handle(data: dict, request: dict) -> dict:
    try:
        size = {k: int(request[k]) for k in ("hidden", "layers") if request.get(k)}
        size = size if request["peer"] == "darts" else {}  # the torch loop keeps 2 x 64
        return RUNNERS[request["peer"]](data, request["cell"], int(request["epochs"]), **size)
    except Exception as exc:  # one failed contender must not end the whole benchmark
        return {"error": f"{type(exc).__name__}: {exc}"}


def serve(data: dict) -> None:
    print(json.dumps({"ready": True, **versions()}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(handle(data, json.loads(line))), flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="npz with x, y, vx, vy windows (float32)")
    ap.add_argument("--serve", action="store_true", help="answer JSON requests on stdin")
    ap.add_argument("--peer", choices=sorted(RUNNERS), default="darts")
    ap.add_argument("--cell", choices=("lstm", "gru"), default="lstm")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=0, help="units per layer (0: the bench's 64)")
    ap.add_argument("--layers", type=int, default=0, help="recurrent layers (0: the bench's 2)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    os.environ.setdefault("PL_DISABLE_FORK", "1")
    _quiet()
    data = load(args.data)
    if args.serve:
        serve(data)
    else:
        print(json.dumps(handle(data, vars(args))))


if __name__ == "__main__":
    main()
