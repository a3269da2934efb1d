"""The command line's memory-task flags: --task, --lag, --n-train, ... (core/cli.py wires them)."""

from __future__ import annotations

import argparse
from typing import Any

from core.config import TASKS, flag
from core.errors import UserError


def add_task_flags(p: argparse.ArgumentParser) -> None:
    add = p.add_argument
    add("--task", default=None, help=f"with --source task: {', '.join(TASKS)}")
    add("--lag", **flag("lag", "steps back the answer sits, below the lookback"))
    add("--n-train", **flag("n_train", "training samples"))
    add("--n-val", **flag("n_val", "validation samples"))
    add("--n-test", **flag("n_test", "test samples"))
    add("--task-seed", **flag("task_seed", "the data's seed"))


def task_changes(args: argparse.Namespace, source: str) -> dict[str, Any]:
    """Spec changes for --source task; T (lookback) defaults to lag + 10, as the preset's."""
    names = ("task", "lag", "n_train", "n_val", "n_test", "task_seed")
    changes = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if source != "task":
        if changes:
            flags = ", ".join("--" + n.replace("_", "-") for n in changes)
            raise UserError(f"{flags} apply only to memory tasks: add --source task")
        return {}
    changes.setdefault("task", TASKS[0])
    if getattr(args, "lookback", None) is None:
        changes["lookback"] = changes.get("lag", 40) + 10
    changes["ticker"] = changes["task"]  # the label lists show; no price symbol is involved
    return changes


def run_preset(args: argparse.Namespace, train_one: Any, emit: Any, log: Any) -> int:
    """compare --preset memory: the preset's fixed settings; --seeds (default 3) and --json."""
    from core import memory_preset
    from core.runs import RunStore

    if args.preset != "memory":
        raise UserError(f"unknown preset {args.preset!r}: the one preset is 'memory'")
    if not 1 <= args.seeds <= 10:
        raise UserError(f"--seeds must be between 1 and 10 for the preset, got {args.seeds}")
    store = RunStore()
    rep = memory_preset.run(
        store, lambda s, spec: train_one(s, spec, None, log)[0], seeds=args.seeds, log=log
    )
    emit(rep, memory_preset.lines(rep), args.json)
    return 0 if all(c["done"] == c["seeds"] for c in rep["cells"].values()) else 1


def run_words(store: Any, rid: str, summary: dict) -> dict[str, Any]:
    """The memory horizon and the run's words (core.insight), as Results shows them."""
    from core import insight

    try:
        record = store.read_json(rid, "spec.json") or {}
        gtt = store.gradients_through_time(rid)
    except ValueError:  # a hand-edited file: the numbers are shown, the words are not
        return {"memory_horizon": summary.get("memory_horizon"), "words": []}
    words = insight.run_sentences(record.get("spec") or {}, summary, gtt) if summary else []
    return {"memory_horizon": summary.get("memory_horizon"), "words": words}
