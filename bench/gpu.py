"""Training samples/s per cell and batch size on whatever device Keras' backend finds.

Usage: python bench/gpu.py [--batches 64,256,1024] [--cells lstm,gru,rnn] [--repeats N]
                           [--epochs N] [--units N] [--lookback N] [--baseline CPU.json] [--json]

Issue 6 asks for GPU figures at batch 64, 256 and 1024 and the speed-up over the 2-core CPU.
The GPU box has JAX but no TensorFlow, so there it runs with KERAS_BACKEND=jax; here it runs
on TensorFlow (the default) and its --json output is the baseline. Per cell and batch, two
contenders train the issue's task (bench/overhead.py's windows, 2 x 64 units, Adam 1e-3) in
one loop, order alternating every repeat:
  ours   core.training's InstrumentedModel + EpochRecorder (norms, spectral radii, GTT probe,
         gate dynamics on the probe windows) with core.training.compile_options(device):
         what a run of the app trains
  plain  keras.Model, same architecture and options: ours / plain = the diagnostics' cost
Figures are medians over repeats of samples/s over a whole fit() (after a warm-up fit that
compiles). With --baseline, speedup = ours here / ours in the baseline file, same cell+batch.
--units 8 --lookback 10 makes the steps tiny, so the figures are the trainer's host work per
step (what a GPU step hides behind), measurable on a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import keras  # noqa: E402
import numpy as np  # noqa: E402
import overhead  # noqa: E402  (the task's windows, shared)

from core import training  # noqa: E402
from core.config import ModelSpec  # noqa: E402
from core.models import build_model, use_wavefront  # noqa: E402

LOOKBACK = 60


def contenders(cell: str, device: dict, probe: tuple, units: int = 64) -> dict:
    """Fresh (model, callbacks) pairs from the same seed, compiled as core.training.fit does."""
    spec = ModelSpec(cell=cell, layers=2, units=units)
    lookback = probe[0].shape[1]
    options = training.compile_options(device)
    wave = use_wavefront(spec, gpu=bool(device.get("gpu")))
    out = {}
    for name, cls in (("ours", None), ("plain", keras.Model)):
        model = build_model(spec, lookback, 1, seed=0, model_class=cls, wavefront=wave)
        extra = {"clipnorm": None} if cls is None else {}
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", **options, **extra)
        if cls is not None and options.get("jit_compile"):
            training.force_xla(model)  # plain Keras turns XLA down under op determinism
        callbacks = []
        if cls is None:
            gtt = training.make_gtt_probe(model, *probe)
            callbacks = [TimedRecorder(gtt, lookback, probe_x=probe[0])]  # gates too, as a run
        out[name] = (model, callbacks)
    return out


class TimedRecorder(training.EpochRecorder):
    """The recorder, timing its per-epoch work (norm read-out, spectral radii, GTT probe):
    a fixed cost per epoch, so a large share of a GPU epoch of a few steps."""

    def __init__(self, probe: object, lookback: int, probe_x: object = None) -> None:
        super().__init__(probe, lookback, probe_x=probe_x)
        self.seconds: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        start = time.perf_counter()
        super().on_epoch_end(epoch, logs)
        self.seconds.append(time.perf_counter() - start)


def timed_fit(arm: tuple, data: tuple, batch: int, epochs: int) -> float:
    model, callbacks = arm
    x, y, vx, vy = data
    feed = training.fit_input(x, y, batch, seed=0)  # fed as core.training.fit feeds a run
    start = time.perf_counter()
    model.fit(**feed, validation_data=training.val_input(vx, vy, batch), epochs=epochs,
              callbacks=callbacks, verbose=0)  # fmt: skip
    return len(x) * epochs / (time.perf_counter() - start)


def bench(
    cell: str, batch: int, data: tuple, device: dict, repeats: int, epochs: int, units: int = 64
) -> dict:
    arms = contenders(cell, device, (data[2][:64], data[3][:64]), units)
    start = time.perf_counter()
    for arm in arms.values():
        timed_fit(arm, data, batch, 1)  # warm-up: traces and compiles
    warmup_s = time.perf_counter() - start
    arms["ours"][1][0].seconds.clear()  # the warm-up's include compiling the probe
    runs: dict[str, list[float]] = {"ours": [], "plain": []}
    for r in range(repeats):
        for name in ("ours", "plain") if r % 2 == 0 else ("plain", "ours"):
            runs[name].append(timed_fit(arms[name], data, batch, epochs))
    ours, plain = statistics.median(runs["ours"]), statistics.median(runs["plain"])
    recorder_ms = 1000 * statistics.median(arms["ours"][1][0].seconds)
    epoch_ms = 1000 * len(data[0]) / ours
    return {"ours": round(ours, 1), "plain": round(plain, 1), "ratio": round(ours / plain, 3),
            "warmup_s": round(warmup_s, 1), "recorder_ms": round(recorder_ms, 1),
            "epoch_ms": round(epoch_ms, 1),
            "runs": {k: [round(v) for v in vs] for k, vs in runs.items()}}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="64,256,1024")
    ap.add_argument("--cells", default="lstm,gru,rnn")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2, help="epochs per timed fit")
    ap.add_argument("--baseline", type=Path, help="this script's --json output from the CPU")
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    ap.add_argument("--units", type=int, default=64, help="units per layer (2 layers)")
    ap.add_argument("--lookback", type=int, default=LOOKBACK, help=f"at most {LOOKBACK}")
    ap.add_argument("--save-data", type=Path, help="write the windows (npz) for torch_gpu.py")
    args = ap.parse_args(argv)
    device = training.setup_device(mixed_precision=False)
    keras.utils.set_random_seed(0)
    source, data = overhead.load_windows()
    if not 1 <= args.lookback <= LOOKBACK:
        print(f"--lookback must be 1..{LOOKBACK}", file=sys.stderr)
        return 2
    x, y, vx, vy = data  # the last `lookback` steps of each window: the same targets
    data = (x[:, -args.lookback :], y, vx[:, -args.lookback :], vy)
    if args.save_data:
        args.save_data.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.save_data, **dict(zip(("x", "y", "vx", "vy"), data, strict=True)))
    # The baseline is a saved --json run: its last line, so a whole log works too.
    base = {}
    if args.baseline:
        base = json.loads(args.baseline.read_text().strip().splitlines()[-1])["figures"]
    print(f"backend {training.BACKEND}, device {device['name']}, {platform.node()}; {source}; "
          f"{len(data[0])} train windows; 2 x {args.units} units, lookback {args.lookback}; "
          f"median of {args.repeats} x {args.epochs} epochs")  # fmt: skip
    print(f"{'cell':5} {'batch':>5} {'ours':>10} {'plain':>10} {'ours/plain':>10} "
          f"{'warm-up s':>9} {'epoch ms':>8} {'recorder ms':>11} {'speed-up':>8}")  # fmt: skip
    figures: dict = {}
    for cell in args.cells.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            f = bench(cell, batch, data, device, args.repeats, args.epochs, args.units)
            ref = base.get(cell, {}).get(str(batch), {}).get("ours")
            f["speedup"] = round(f["ours"] / ref, 2) if ref else None
            figures.setdefault(cell, {})[str(batch)] = f
            shown = f"{f['speedup']:.2f}x" if f["speedup"] else "-"
            print(f"{cell:5} {batch:5d} {f['ours']:10,.0f} {f['plain']:10,.0f} "
                  f"{f['ratio']:10.3f} {f['warmup_s']:9.1f} {f['epoch_ms']:8.1f} "
                  f"{f['recorder_ms']:11.1f} {shown:>8}", flush=True)  # fmt: skip
    if args.json:
        print(json.dumps({"backend": training.BACKEND, "device": device, "figures": figures,
                          "cpu_count": os.cpu_count(), "keras": keras.__version__}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
