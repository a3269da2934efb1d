"""Cost of the gradient diagnostics: instrumented fit vs plain keras model.fit, same model.

Usage: python bench/overhead.py [--quick] [--json]

Both arms train the same architecture (2 x 64 units, Dense(1), T=60, batch 64, Adam 1e-3)
from the same initial weights on the same windows, with the same validation data, in one
process, interleaved A B B A ... so drift in a shared machine's load hits both equally.
The instrumented arm includes everything a real run adds per epoch (reading the norm
accumulators, spectral radii, the gradient-through-time probe). Medians over repeats.
With --json the last stdout line is one JSON object; overhead_ratio is the worst cell's
instrumented / plain samples/s (target >= 0.97); overhead_ratio_cpu_time is the same per
CPU second of this process, the figure to trust when other jobs share the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np  # noqa: E402

from core.config import DataSpec, ModelSpec  # noqa: E402

LOOKBACK = 60
BATCH = 64


def load_windows() -> tuple[str, tuple[np.ndarray, ...]]:
    """^GSPC daily log-return windows, or a synthetic random walk of the same length."""
    spec = DataSpec(ticker="^GSPC", lookback=LOOKBACK)
    try:
        from core.data import load_prices
        from core.dataset import make_dataset

        ds = make_dataset(load_prices("sample", "^GSPC"), spec)
        return "^GSPC bundled sample, daily log returns", (
            ds.train.x,
            ds.train.y,
            ds.val.x,
            ds.val.y,
        )
    except (ImportError, ValueError, OSError) as exc:
        print(f"real data unavailable ({exc}); using a synthetic random walk", file=sys.stderr)
    rng = np.random.default_rng(0)
    returns = rng.normal(0.0, 1.0, 5000).astype(np.float32)  # already "scaled"
    windows = np.lib.stride_tricks.sliding_window_view(returns[:-1], LOOKBACK)[..., None]
    targets = returns[LOOKBACK:]
    cut = int(len(targets) * 0.7)
    name = "synthetic random walk (5000 days), log returns"
    return name, (windows[:cut], targets[:cut], windows[cut:], targets[cut:])


def _pair(cell: str, probe: tuple[np.ndarray, np.ndarray]):
    import keras

    from core import training
    from core.models import build_model

    spec = ModelSpec(cell=cell, layers=2, units=64)
    plain = build_model(spec, LOOKBACK, 1, seed=0, model_class=keras.Model)
    plain.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    inst = build_model(spec, LOOKBACK, 1, seed=0)
    inst.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", clipnorm=None)
    recorder = training.EpochRecorder(training.make_gtt_probe(inst, *probe), LOOKBACK)
    return {"instrumented": (inst, [recorder]), "plain": (plain, [])}


def _samples_per_s(arm, data, epochs: int) -> tuple[float, float]:
    """(wall-clock, CPU-time) samples/s: on a shared CPU only the second is stable.

    arm is (model, callbacks) fed arrays, as a plain Keras script does, or (model,
    callbacks, True) fed through core.training's input pipeline, as a run is."""
    model, callbacks, pipeline = (*arm, False)[:3]
    feed = fit_feed(data, pipeline)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(**feed, epochs=epochs, callbacks=callbacks, verbose=0)
    n = len(data[0]) * epochs
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def fit_feed(data: tuple, pipeline: bool) -> dict:
    """model.fit's data arguments: arrays (Keras' own input pipeline) or core.training's."""
    x, y, vx, vy = data
    if not pipeline:
        return {"x": x, "y": y, "validation_data": (vx, vy), "batch_size": BATCH, "shuffle": True}
    from core import training

    feed = training.fit_input(x, y, BATCH, seed=0)
    return {**feed, "validation_data": training.val_input(vx, vy, BATCH)}


def bench_cell(cell: str, data, repeats: int, epochs: int) -> dict:
    arms = _pair(cell, (data[2][:64], data[3][:64]))
    for arm in arms.values():
        _samples_per_s(arm, data, 1)  # warm-up: traces the step and the probe
    runs: dict[str, list[tuple[float, float]]] = {"instrumented": [], "plain": []}
    for r in range(repeats):
        order = ("instrumented", "plain") if r % 2 == 0 else ("plain", "instrumented")
        for name in order:
            runs[name].append(_samples_per_s(arms[name], data, epochs))
    out: dict = {}
    for clock, i in (("", 0), ("cpu_", 1)):
        inst = statistics.median(v[i] for v in runs["instrumented"])
        plain = statistics.median(v[i] for v in runs["plain"])
        out[f"instrumented_{clock}sps"] = round(inst, 1)
        out[f"plain_{clock}sps"] = round(plain, 1)
        out[f"{clock}ratio"] = round(inst / plain, 4)
    out["runs_wall_sps"] = {k: [round(v[0], 1) for v in vs] for k, vs in runs.items()}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats of 1 epoch")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument("--cells", default="lstm,gru", help="comma-separated: lstm,gru,rnn")
    parser.add_argument("--threads", type=int, default=0, help="TF threads (0 = TF default)")
    parser.add_argument("--repeats", type=int, default=None, help="override the repeat count")
    args = parser.parse_args(argv)
    import keras
    import tensorflow as tf

    from core.training import setup_device

    if args.threads:
        # One thread per pool: no spin-waiting, so CPU time on a shared machine means work.
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    device = setup_device(mixed_precision=False)
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()  # as core.training.fit runs
    source, data = load_windows()
    repeats, epochs = (3, 1) if args.quick else (5, 2)
    repeats = args.repeats or repeats
    print(f"data: {source}; {len(data[0])} train windows, T={LOOKBACK}, batch {BATCH}")
    print(f"device: {device['name']}; {repeats} repeats x {epochs} epoch(s), medians")
    cells = {}
    for cell in args.cells.split(","):
        cells[cell] = bench_cell(cell, data, repeats, epochs)
        c = cells[cell]
        print(
            f"{cell:5s} instrumented {c['instrumented_sps']:9.1f} samples/s   "
            f"plain {c['plain_sps']:9.1f} samples/s   ratio {c['ratio']:.3f}   "
            f"(per CPU second: {c['instrumented_cpu_sps']:.1f} vs {c['plain_cpu_sps']:.1f}, "
            f"ratio {c['cpu_ratio']:.3f})"
        )
    first = next(iter(cells.values()))
    result = {
        "overhead_ratio": min(c["ratio"] for c in cells.values()),
        "overhead_ratio_cpu_time": min(c["cpu_ratio"] for c in cells.values()),
        "instrumented_sps": first["instrumented_sps"],
        "plain_sps": first["plain_sps"],
        "target": 0.97,
        "cells": cells,
        "data": source,
        "device": device,
        "repeats": repeats,
        "epochs": epochs,
        "threads": args.threads or "default",
        "train_windows": len(data[0]),
    }
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
