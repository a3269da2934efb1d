"""Gradient Lab benchmark: our training loop against plain Keras and Darts, plus side figures.

Usage: python bench/run.py [--quick | --tiny] [--json] [--threads N] [--no-peer]

The task (issue 6): ^GSPC daily log returns standardised on the train split, windows T=60,
one feature, 2 stacked layers of 64 units, Dense(1), batch 64, Adam 1e-3, float32, with
validation after every epoch. Per cell the contenders run in ONE loop, their order rotated
every repeat, so load drift on a shared machine hits all of them alike; figures are medians,
and overhead_ratio is the median of the per-round ours/plain ratios (the two ran back to back).
  ours           InstrumentedModel as core.training.fit builds and compiles it (gradient
                 diagnostics, the per-epoch recorder, compile_options, the input pipeline
                 and, on a CPU, the layers as one wavefront loop: core/wavefront.py)
  plain          keras.Model, same network and options: ours / plain = overhead_ratio
  ours_layers    ours with separate Keras layers, not the wavefront: what that bought
  ours_defaults  ours as Keras layers with Keras' default compile options, fed arrays: what
                 the speed options, the wavefront and the input pipeline bought together
  plain_keras    keras.Model, Keras defaults: what a user writing model.fit gets
  darts, torch   Darts BlockRNNModel and a raw PyTorch loop in .bench-venv (bench/peers.py)
The full run ends with bench/ttr.py: the default run from the Train click to rendered Results
in a real browser, the CLI and Darts whole processes, alternated, medians and ratios.
With --json the last stdout line is one JSON object (keys in docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]  # run as a script from anywhere

import gflops  # noqa: E402
import lockstep  # noqa: E402
import numpy as np  # noqa: E402
import overhead  # noqa: E402  (the data and the timed fit are shared with it, not copied)
import probes  # noqa: E402

VENV_PY = ROOT / ".bench-venv" / "bin" / "python"
VENV_CMD = (
    "python3 -m venv .bench-venv && .bench-venv/bin/pip install -r bench/requirements-bench.txt"
)
UNITS, LAYERS = 64, 2
MODES = {  # repeats, epochs per timed fit, training windows (None = all), cells, lockstep epochs
    "full": (5, 2, None, ("lstm", "gru", "rnn"), 6),
    "quick": (1, 1, None, ("lstm",), 10),
    "tiny": (1, 1, 256, ("lstm",), 1),
}


class PeerServer:
    """bench/peers.py --serve in .bench-venv: one JSON request line in, one line out."""

    def __init__(self, npz: str, threads: int, timeout_s: float = 600.0):
        cmd = [str(VENV_PY), str(ROOT / "bench" / "peers.py"), "--data", npz, "--serve"]
        if threads:
            cmd += ["--threads", str(threads)]
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.info = self._read()

    def _read(self) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout_s)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError("the peer process did not answer (see bench/peers.py)")
        return json.loads(line)

    def run(self, peer: str, cell: str, epochs: int) -> tuple[float, float]:
        self.proc.stdin.write(json.dumps({"peer": peer, "cell": cell, "epochs": epochs}) + "\n")
        self.proc.stdin.flush()
        out = self._read()
        if "error" in out:
            raise RuntimeError(f"{peer} {cell}: {out['error']}")
        return out["sps"], out["cpu_sps"]

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_peer(data: tuple, threads: int, tmp: str) -> tuple[PeerServer | None, dict]:
    if not VENV_PY.exists():
        return None, {"status": "skipped", "reason": ".bench-venv is missing", "fix": VENV_CMD}
    npz = os.path.join(tmp, "windows.npz")
    np.savez(npz, x=data[0], y=data[1], vx=data[2], vy=data[3])
    try:
        server = PeerServer(npz, threads)
    except (OSError, RuntimeError, json.JSONDecodeError) as exc:
        return None, {"status": "failed", "reason": str(exc), "fix": VENV_CMD}
    return server, {"status": "ok", **{k: v for k, v in server.info.items() if k != "ready"}}


def keras_arms(cell: str, data: tuple, setup: dict, baselines: bool, extra: dict) -> dict:
    """name -> (model, callbacks) for the Keras contenders, all from the same initial weights."""

    from core.config import ModelSpec
    from core.models import use_wavefront

    options = setup["options"]
    spec = ModelSpec(cell=cell, layers=LAYERS, units=UNITS)
    wave = use_wavefront(spec, gpu=setup["gpu"])
    arms = {
        "ours": _ours(spec, data, options, wave),
        "plain": _plain(spec, options, wave),
    }
    if extra:  # a candidate speed option, timed beside the shipped ones before adopting it
        arms["ours_try"] = _ours(spec, data, {**options, **extra}, wave)
    if baselines and wave:  # what running the stack as one loop bought, all else equal
        arms["ours_layers"] = _ours(spec, data, options, False)
    if options and baselines:  # without options they equal ours and plain: time them once
        defaults = overhead._pair(cell, (data[2][:64], data[3][:64]))  # Keras defaults, layers
        arms["ours_defaults"] = defaults["instrumented"]
        arms["plain_keras"] = defaults["plain"]
    return arms


def _ours(spec, data: tuple, options: dict, wave: bool) -> tuple:
    """InstrumentedModel with the per-epoch recorder, as core.training.fit trains it."""
    import keras

    from core import training
    from core.models import build_model

    model = build_model(spec, overhead.LOOKBACK, 1, seed=0, wavefront=wave)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", clipnorm=None, **options)
    probe_fn = training.make_gtt_probe(model, data[2][:64], data[3][:64])
    recorder = training.EpochRecorder(probe_fn, overhead.LOOKBACK, probe_x=data[2][:64])
    return model, [recorder], True  # with gate dynamics, as a run records them


def _plain(spec, options: dict, wave: bool) -> tuple:
    """keras.Model, same network and compile options: ours / plain is the diagnostics' cost."""
    import keras

    from core import training
    from core.models import build_model

    model = build_model(spec, overhead.LOOKBACK, 1, seed=0, model_class=keras.Model, wavefront=wave)
    xla = options.get("jit_compile") is True
    opts = {k: v for k, v in options.items() if k != "jit_compile"}
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", **opts)
    if xla:
        training.force_xla(model)  # plain Keras turns XLA down under op determinism
    return model, [], True  # fed as a run is fed: ours / plain is the diagnostics alone


def bench_cell(cell, data, counts, setup, peer, baselines=True, extra=None) -> dict:
    repeats, epochs, lock_epochs = counts
    arms = keras_arms(cell, data, setup, baselines, extra or {})
    runners = {
        name: (lambda e, arm=arm: overhead._samples_per_s(arm, data, e))
        for name, arm in arms.items()
    }
    if peer is not None and cell in ("lstm", "gru"):
        for name in ("darts", "torch"):
            runners[name] = lambda e, name=name: peer.run(name, cell, e)
    warm = _warm_up_data(data)
    for name, run in runners.items():
        # Traces and compiles every step function (Keras arms: on one full and the one
        # partial batch shape the timed epochs meet), builds Darts' trainer once.
        _ = overhead._samples_per_s(arms[name], warm, 1) if name in arms else run(1)
        print(f"  {cell} {name}: warm", flush=True)
    names = list(runners)
    runs: dict[str, list] = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            runs[name].append(runners[name](epochs))
    out = {
        name: {
            "sps": round(statistics.median(v[0] for v in vs), 1),
            "cpu_sps": round(statistics.median(v[1] for v in vs), 1),
            "runs_sps": [round(v[0], 1) for v in vs],
        }
        for name, vs in runs.items()
    }
    # ours and plain of the same round ran next to each other: their ratio cancels the load
    # drift between rounds that a ratio of the two medians keeps.
    pairs = [(o[0] / p[0], o[1] / p[1]) for o, p in zip(runs["ours"], runs["plain"], strict=True)]
    out["ours"]["paired_ratio"] = round(statistics.median(r[0] for r in pairs), 4)
    out["ours"]["paired_cpu_ratio"] = round(statistics.median(r[1] for r in pairs), 4)
    out["ours"]["lockstep"] = overhead_lockstep(arms, data, lock_epochs)
    return out


def _warm_up_data(data: tuple) -> tuple:
    """The first full batch and a batch of the size of the epoch's last, partial one."""
    rest = len(data[0]) % overhead.BATCH
    n = overhead.BATCH + rest if rest else overhead.BATCH
    return data[0][:n], data[1][:n], data[2], data[3]


def overhead_lockstep(arms: dict, data: tuple, epochs: int) -> dict:
    """ours and plain fitting `epochs` epochs each, in lockstep (bench/lockstep.py)."""
    names = ("ours", "plain")
    feed = {**overhead.fit_feed(data, pipeline=True), "epochs": epochs}
    sps = lockstep.run(
        {n: arms[n][:2] for n in names}, dict.fromkeys(names, feed), len(data[0]) * epochs
    )
    (ours, ours_cpu), (plain, plain_cpu) = sps["ours"], sps["plain"]
    print(
        f"  lockstep, {epochs} epochs each: ours {ours:.0f} plain {plain:.0f} samples/s", flush=True
    )
    return {
        "epochs": epochs,
        "ours_sps": round(ours, 1),
        "plain_sps": round(plain, 1),
        "ratio": round(ours / plain, 4),
        "cpu_ratio": round(ours_cpu / plain_cpu, 4),
    }


def summarise(cells: dict, peak: float, peer_info: dict) -> dict:
    out: dict = {}
    for cell, arms in cells.items():
        ours, plain = arms["ours"], arms["plain"]
        sfx = "" if cell == "lstm" else f"_{cell}"
        out[f"overhead_ratio{sfx}"] = ours["lockstep"]["ratio"]
        out[f"overhead_ratio_cpu_time{sfx}"] = ours["lockstep"]["cpu_ratio"]
        out.setdefault("overhead_ratio_rotated", {})[cell] = ours["paired_ratio"]
        out.setdefault("overhead_ratio_of_medians", {})[cell] = round(ours["sps"] / plain["sps"], 4)
        flops = gflops.train_flops_per_sample(cell, LAYERS, UNITS, overhead.LOOKBACK, 1)
        out.setdefault("samples_per_s", {})[cell] = ours["sps"]
        out.setdefault("achieved", {})[cell] = {
            "train_mflop_per_sample": round(flops / 1e6, 3),
            **gflops.achieved(ours["sps"], flops, peak),
        }
        base = arms.get("plain_keras", plain)["sps"]
        out.setdefault("vs_plain_keras", {})[cell] = round(ours["sps"] / base, 4)
        if "ours_try" in arms:
            out.setdefault("try_gain", {})[cell] = round(arms["ours_try"]["sps"] / ours["sps"], 4)
        if "ours_layers" in arms:
            gain = ours["sps"] / arms["ours_layers"]["sps"]
            out.setdefault("wavefront_gain", {})[cell] = round(gain, 4)
        if "ours_defaults" in arms:
            gain = ours["sps"] / arms["ours_defaults"]["sps"]
            out.setdefault("speed_options_gain", {})[cell] = round(gain, 4)
        if "darts" in arms:
            out[f"vs_darts_{cell}"] = round(ours["sps"] / arms["darts"]["sps"], 4)
            out[f"vs_darts_{cell}_cpu_time"] = round(ours["cpu_sps"] / arms["darts"]["cpu_sps"], 4)
    out["peer"] = peer_info
    return out


def _table(cells: dict) -> list[str]:
    lines = [f"{'cell':5s} {'contender':14s} {'samples/s':>10s} {'per CPU s':>10s}  runs"]
    for cell, arms in cells.items():
        for name, a in arms.items():
            runs = " ".join(f"{v:.0f}" for v in a["runs_sps"])
            lines.append(f"{cell:5s} {name:14s} {a['sps']:10.1f} {a['cpu_sps']:10.1f}  {runs}")
    return lines


def setup_tf(threads: int) -> tuple[dict, dict]:
    import keras
    import tensorflow as tf

    from core import training

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    device = training.setup_device(mixed_precision=False)
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()  # as core.training.fit runs
    versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    return device, {**versions, "options": training.compile_options(device)}


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="under a minute: overhead only")
    mode.add_argument("--tiny", action="store_true", help="smoke test: LSTM, 256 windows")
    ap.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    ap.add_argument("--threads", type=int, default=0, help="TF and torch threads (0 = default)")
    ap.add_argument("--no-peer", action="store_true", help="skip Darts / PyTorch")
    ap.add_argument(
        "--no-side", action="store_true", help="skip data, memory, dashboard, time to result"
    )
    ap.add_argument("--repeats", type=int, default=None, help="override the repeat count")
    ap.add_argument("--lockstep-epochs", type=int, default=None, help="override ours/plain epochs")
    ap.add_argument("--cells", default=None, help="comma list of lstm,gru,rnn")
    ap.add_argument("--windows", type=int, default=None, help="use the first N train windows")
    ap.add_argument(
        "--try",
        dest="try_options",
        type=json.loads,
        default=None,
        help='extra compile options for an "ours_try" arm, e.g. \'{"steps_per_execution": 8}\'',
    )
    return ap.parse_args(argv)


def run_cells(args, mode: str, data: tuple, setup: dict) -> tuple[dict, dict]:
    """Every contender of every cell, interleaved; the peer process lives for the whole loop."""
    repeats, epochs, _, cells, lock_epochs = MODES[mode]
    repeats, cells = args.repeats or repeats, tuple(args.cells.split(",")) if args.cells else cells
    counts = (repeats, epochs, args.lockstep_epochs or lock_epochs)
    use_peer = mode == "full" and not args.no_peer
    why = "--no-peer" if args.no_peer else f"not run in --{mode}"
    with tempfile.TemporaryDirectory() as tmp:
        peer, info = start_peer(data, args.threads, tmp) if use_peer else (None, {})
        info = info if use_peer else {"status": "skipped", "reason": why}
        print(f"peer: {info}", flush=True)
        try:
            bench = {
                c: bench_cell(c, data, counts, setup, peer, mode == "full", args.try_options)
                for c in cells
            }
        finally:
            if peer is not None:
                peer.close()
    return bench, {"peer": info, "repeats": repeats, "epochs": epochs, "lockstep_epochs": counts[2]}


def side_figures(args, mode: str) -> dict:
    out: dict = {}
    if mode != "tiny" and not args.no_side:
        out["data"] = probes.data_figures(overhead.LOOKBACK)
        print(f"data: {out['data']}", flush=True)
    if mode == "full" and not args.no_side:
        out["memory"] = probes.worker_memory()
        print(f"memory: {out['memory']}", flush=True)
        out["dashboard"] = probes.dashboard_figures()
        print(f"dashboard: {out['dashboard']}", flush=True)
    if mode == "full" and not args.no_side and not args.no_peer:
        from bench import ttr  # click to Results vs Darts, whole processes (bench/ttr.py)

        out["time_to_result"] = {k: v for k, v in ttr.measure(3, False).items() if k != "rounds"}
        print(f"time to result: {out['time_to_result']}", flush=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    mode = "quick" if args.quick else "tiny" if args.tiny else "full"
    result: dict = {"date": dt.date.today().isoformat(), "mode": mode, "machine": probes.machine()}
    device, result["software"] = setup_tf(args.threads)
    source, data = overhead.load_windows()
    n_windows = args.windows or MODES[mode][2]
    if n_windows:
        data = (data[0][:n_windows], data[1][:n_windows], data[2][:256], data[3][:256])
    print(f"data: {source}; {len(data[0])} train windows, T={overhead.LOOKBACK}, batch 64")
    print(f"device: {device['name']}; compile options {result['software']['options']}")
    peak = gflops.machine_peak(seconds=1.0 if mode == "full" else 0.3)
    print(f"float32 matmul peak: {peak['peak_gflops']} GFLOP/s {peak['probes']}", flush=True)
    setup = {"options": result["software"]["options"], "gpu": bool(device.get("gpu"))}
    bench, run_info = run_cells(args, mode, data, setup)
    print("\n".join(_table(bench)))
    result.update(summarise(bench, peak["peak_gflops"], run_info.pop("peer")))
    result |= {"peak": peak, "cells": bench, "device": device, "data_source": source, **run_info}
    result |= {"train_windows": len(data[0]), "threads": args.threads or "default"}
    result |= side_figures(args, mode)
    result["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    _print_headline(result)
    if args.json:
        print(json.dumps(result))
    return result


def _print_headline(r: dict) -> None:
    keys = [k for k in r if k.startswith(("overhead_ratio", "vs_darts"))]
    print("  ".join(f"{k}={r[k]}" for k in keys))
    print(f"samples/s {r['samples_per_s']}  achieved {r['achieved']}")


if __name__ == "__main__":
    main()
