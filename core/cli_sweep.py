"""`python -m core sweep`: search settings per cell with Optuna; every trial is a stored run.

    python -m core sweep --cells lstm,gru --trials 6 --sampler tpe \
        --range learning_rate=1e-4:1e-2:log --range units=4:64 --epochs 5 --json

Ranges are checked before anything is read or written (min > max, a log range through 0, an
unknown parameter: one line, exit 2). The same command again resumes the same study (its name
hashes the definition), reusing finished trials; `--name sweep-…` resumes a saved one.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from core import sweep
from core.runs import RunStore


def add_parser(sub: Any, spec_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    trial = " ".join(f"--{k} {v}" for k, v in sweep.TRIAL_DEFAULTS.items())
    p = sub.add_parser(
        "sweep",
        help="search settings per cell with Optuna (trials are runs)",
        description=f"Each trial is a run; it trains with {trial} unless given.",
    )
    spec_flags(p)
    p.add_argument("--cells", default="lstm,gru", help="comma list, e.g. lstm,gru,rnn")
    p.add_argument(
        "--trials", type=int, default=sweep.DEFAULT_TRIALS,
        help=f"trials per cell, 1-{sweep.MAX_TRIALS}, default {sweep.DEFAULT_TRIALS}",
    )  # fmt: skip
    p.add_argument("--sampler", choices=sweep.SAMPLERS, default="tpe")
    p.add_argument("--pruner", choices=sweep.PRUNERS, default="median")
    p.add_argument(
        "--range", action="append", dest="ranges", metavar="NAME=MIN:MAX[:log]",
        help=f"searched setting, repeatable; one of {', '.join(sweep.PARAMS)}; "
        f"default {' '.join(sweep.DEFAULT_RANGES)}",
    )  # fmt: skip
    p.add_argument(
        "--parallel",
        type=int,
        default=None,
        help="trials at once (default: GRADLAB_WORKERS, or the Ray cluster's GPUs/CPUs)",
    )
    p.add_argument("--name", default=None, help="resume a saved sweep (sweep-…) as it was defined")
    p.set_defaults(**sweep.TRIAL_DEFAULTS)  # a trial's --epochs and --patience, as the page's


def _definition(args: argparse.Namespace) -> tuple[sweep.SweepDef, Any]:
    """Ranges first (nothing read yet), then settings and data; still nothing written."""
    from core import data
    from core.cli import _prepared

    ranges = [sweep.parse_range(t) for t in (args.ranges or sweep.DEFAULT_RANGES)]
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    sweep.make_def(sweep.RunSpec(), "0" * 64, cells, ranges, args.sampler, args.trials, args.pruner)
    base, prices = _prepared(args)
    d = sweep.make_def(
        base, data.fingerprint(prices), cells, ranges, args.sampler, args.trials, args.pruner
    )
    sweep.check_data(d, prices)
    return d, prices


def cmd_sweep(args: argparse.Namespace) -> int:
    from core import sweep_run
    from core.cli import _emit, _stderr

    parallel = args.parallel if args.parallel is not None else _default_parallel()
    if not 1 <= parallel <= 64:
        raise sweep.SpecError(f"--parallel must be between 1 and 64, got {parallel}")
    if args.name is not None:
        store = RunStore()
        d = sweep.load_def(store.root, args.name)
    else:
        d, prices = _definition(args)
        store = RunStore()
        store.save_prices(prices, d.fingerprint)
    sweep.save_def(store.root, d)
    report = sweep_run.run_sweep(store, d, _stderr, parallel)
    _emit(report, _lines(report), args.json)
    return 0 if set(report["best"]) == set(report["cells"]) else 1


def _default_parallel() -> int:
    """As many trials at once as the executor trains: GRADLAB_WORKERS, or the Ray cluster's."""
    from core import executor, jobs

    if executor.executor_name() == "ray":
        from core.executor_ray import capacity

        return capacity()
    return jobs.max_workers()


def _lines(report: dict[str, Any]) -> list[str]:
    lines = [f"{report['sweep']} ({report['sampler']}, {report['budget']} trials per cell)"]
    lines.append(f"storage: {report['storage']}")
    for t in report["trials"]:
        value = "-" if t["value"] is None else f"{t['value']:.5g}"
        params = " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t["params"].items()
        )
        lines.append(f"  #{t['number']:<3} {t['cell']:<5} {t['state']:<9} {value:<9} {params}")
    for cell, b in report["best"].items():
        lines.append(f"best {cell}: run {b['run_id']} val_loss {b['value']:.5g} {b['params']}")
    return lines
