"""The GPU ceiling for bench/gpu.py: a raw PyTorch loop over cuDNN's fused RNN kernels.

Usage: python bench/torch_gpu.py [--batches 64,256,1024] [--json]   (on a machine with torch)

Same task and shapes as bench/gpu.py (the windows saved by `bench/gpu.py --save-data`:
2 x 64 units, last state into Linear(1), Adam 1e-3, validation each epoch), data resident on
the GPU, no diagnostics: what the hardware and cuDNN allow, to read our JAX figures against.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch

CELLS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


def fit_sps(cell: str, data: dict, batch: int, epochs: int, dev: str) -> float:
    torch.manual_seed(0)
    rnn = CELLS[cell](1, 64, 2, batch_first=True).to(dev)
    head = torch.nn.Linear(64, 1).to(dev)
    opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-3)
    x, y, vx, vy = (torch.from_numpy(data[k]).to(dev) for k in ("x", "y", "vx", "vy"))
    start = time.perf_counter()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), device=dev).split(batch):
            opt.zero_grad(set_to_none=True)
            out, _ = rnn(x[idx])
            torch.nn.functional.mse_loss(head(out[:, -1]).reshape(-1), y[idx]).backward()
            opt.step()
        with torch.no_grad():
            out, _ = rnn(vx)
            torch.nn.functional.mse_loss(head(out[:, -1]).reshape(-1), vy).item()  # syncs
    return len(x) * epochs / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="bench/results/windows.npz")
    ap.add_argument("--batches", default="64,256,1024")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    with np.load(args.data) as f:
        data = {k: np.ascontiguousarray(f[k], dtype=np.float32) for k in ("x", "y", "vx", "vy")}
    name = torch.cuda.get_device_name() if dev == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {name}, cuDNN {torch.backends.cudnn.version()}")
    figures: dict = {}
    for cell in CELLS:
        for batch in (int(b) for b in args.batches.split(",")):
            fit_sps(cell, data, batch, 1, dev)  # warm-up: cuDNN plans, allocator
            sps = statistics.median(fit_sps(cell, data, batch, 2, dev) for _ in range(args.repeats))
            figures.setdefault(cell, {})[str(batch)] = round(sps, 1)
            print(f"{cell:5} {batch:5d} {sps:10,.0f} samples/s", flush=True)
    if args.json:
        print(json.dumps({"device": name, "torch": torch.__version__, "figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
