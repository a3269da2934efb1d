"""`python -m core compare`: train (or reuse) cells × seeds (× walk-forward folds) in the
foreground, then print core.compare's report. No numbers are computed here."""

from __future__ import annotations

import argparse
from typing import Any

from core.cells import CELL_NAMES
from core.cli import _emit, _fmt, _prepared, _stderr, train_one
from core.config import DEFAULT_FOLDS, DEFAULT_SEEDS, FOLDS, SEEDS
from core.errors import UserError
from core.runs import RunStore

ERRORS = ("return", "price")  # core.compare.ERRORS, kept here so the parser stays light
SHOWN: tuple[str, ...] = ("rmse", "return_rmse", "skill", "return_skill", "directional_accuracy")
SHOWN += ("direction_baseline", "train_seconds")


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cells", default="lstm,gru", help="comma list, e.g. lstm,gru,rnn")
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                   help=f"seeds per cell (from --seed), {SEEDS.lo}-{SEEDS.hi}, default {DEFAULT_SEEDS}")  # fmt: skip
    p.add_argument("--preset", default=None, help="memory: SimpleRNN/LSTM/GRU, 40-step task")
    p.add_argument("--errors", choices=ERRORS, default="return",
                   help="DM on log-return errors (default, scale-free) or price errors")  # fmt: skip
    p.add_argument("--folds", type=int, default=DEFAULT_FOLDS,
                   help=f"walk-forward: K consecutive test periods at the end, 2-{FOLDS.hi} "
                   f"(default {DEFAULT_FOLDS}: off)")  # fmt: skip
    p.add_argument("--fold-days", type=int, default=None, dest="fold_days",
                   help="test days per fold (default: an ordinary run's test split)")  # fmt: skip


def _cells(args: argparse.Namespace) -> list[str]:
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    if len(cells) < 2 or len(set(cells)) != len(cells):
        raise UserError(
            f"--cells needs two or more different cells, e.g. lstm,gru; got {args.cells!r}"
        )
    if not SEEDS.lo <= args.seeds <= SEEDS.hi:
        raise UserError(f"--seeds must be between {SEEDS.lo} and {SEEDS.hi}, got {args.seeds}")
    if args.folds != 1 and args.folds < 2:
        raise UserError(f"--folds must be 2 or more for walk-forward (1 = off), got {args.folds}")
    if args.fold_days is not None and args.folds < 2:
        raise UserError("--fold-days needs --folds 2 or more (walk-forward)")
    return cells


def cmd_compare(args: argparse.Namespace) -> int:
    if args.preset is not None:
        from core import cli_memory

        return cli_memory.run_preset(args, train_one, _emit, _stderr)
    cells = _cells(args)
    base, prices = _prepared(args)
    first = base.train.seed
    plans: list[tuple[Any, Any, Any]]  # (spec, prices, Fold or None)
    if args.folds >= 2:
        from core.folds import plan_folds

        if prices is None:
            raise UserError("walk-forward folds need prices: drop --folds for a memory task")
        plans = [
            (f.spec, f.prices, f) for f in plan_folds(prices, base, args.folds, args.fold_days)
        ]
    else:
        plans = [(base, prices, None)]
    jobs = []  # (fold index, cell, spec, prices): every spec is validated before any training
    for i, (spec, fold_prices, _) in enumerate(plans):
        for cell in cells:
            for s in range(args.seeds):
                jobs.append(
                    (i, cell, spec.replace(cell=cell, seed=first + s).validate(), fold_prices)
                )
    store = RunStore()
    runs: list[dict[str, list[str]]] = [{c: [] for c in cells} for _ in plans]
    rids = _train_all(store, jobs, len(plans))
    for (i, cell, _, _), rid in zip(jobs, rids, strict=True):
        runs[i][cell].append(rid)
    from core import compare  # numpy/scipy only once runs exist

    report = compare.compare(store, runs if len(plans) > 1 else runs[0], errors=args.errors)
    if len(plans) > 1:
        report["folds"] = [
            {"test_start": f.test_start, "test_end": f.test_end,
             "run_ids": [r for c in cells for r in runs[f.index][c]]}
            for _, _, f in plans if f is not None
        ]  # fmt: skip
    report["runs"] = [
        {"run_id": rid, "cell": cell, "seed": spec.train.seed, "fold": i}
        for (i, cell, spec, _), rid in zip(jobs, rids, strict=True)
    ]
    _emit(report, lines(report), args.json)
    return 0 if all(c["done"] == len(c["runs"]) for c in report["cells"].values()) else 1


def _train_all(store: RunStore, jobs: list[tuple[int, str, Any, Any]], n_plans: int) -> list[str]:
    """In this process one after another (local); on another executor (Ray) all at once."""
    from core import batch, executor

    if executor.executor_name() != "local":
        rids = batch.submit_all(store, [(spec, p) for _, _, spec, p in jobs], _stderr)
        batch.wait(store, rids)
        return rids
    rids = []
    for i, cell, spec, fold_prices in jobs:
        fold = f" fold {i + 1}/{n_plans}" if n_plans > 1 else ""
        _stderr(f"-- {CELL_NAMES[cell]} seed {spec.train.seed}{fold}")
        rids.append(train_one(store, spec, fold_prices, _stderr)[0])
    return rids


def lines(report: dict[str, Any]) -> list[str]:
    """The report as text: table (mean ± std over seeds), tests, verdict."""
    over = "runs (seeds × folds)" if report.get("fold_skill") else "seeds"
    out = [f"test split, mean ± std over {over}; DM on {report['errors']} errors", ""]
    out.append("cell        runs  params  " + "  ".join(SHOWN))
    for cell, info in report["cells"].items():
        vals = [info["metrics"].get(k) or {} for k in SHOWN]
        parts = [f"{_fmt(m.get('mean'))} ± {_fmt(m.get('std'))}" for m in vals]
        head = f"{CELL_NAMES[cell]:<10} {info['done']:>5}  {_fmt(info['params']):>6}  "
        out.append(head + "  ".join(parts))
    naive = report.get("naive") or {}
    out.append(f"naive (tomorrow = today): rmse {_fmt(naive.get('rmse'))}, return_rmse "
               f"{_fmt(naive.get('return_rmse'))}, {naive.get('n', '-')} test days")  # fmt: skip
    for row in report.get("vs_naive", []):
        out.append(f"{CELL_NAMES[row['cell']]} vs naive: skill {_fmt(row['skill'])}, "
                   f"{row['verdict']}")  # fmt: skip
    for pair in report.get("pairs", []):
        names = f"{CELL_NAMES[pair['a']]} vs {CELL_NAMES[pair['b']]}"
        out.append(f"{names}: {pair['verdict']}")
    for fold in report.get("folds", []):
        out.append(f"fold {fold['test_start']} .. {fold['test_end']}: {len(fold['run_ids'])} runs")
    for cell, skills in (report.get("fold_skill") or {}).items():
        shown = ", ".join(_fmt(s) for s in skills)
        out.append(f"{CELL_NAMES[cell]} skill per fold: {shown}")
    out.append(f"verdict: {report['verdict']}")
    return out
