"""The memory preset: SimpleRNN, LSTM and GRU on the marked-memory task, the experiment that
shows the vanishing gradient (python -m core compare --preset memory; a button on Home,
Theory and Compare).

Settings are those tests/test_science.py measured, with the LSTM's rate and the epochs
re-measured for three model seeds: T = 50 steps, the answer 40 steps back, 2,000 training
samples, 16 units, batch 16, Adam, 16 epochs without early stopping, and each cell at a
learning rate at which it can learn the task. LSTM 1e-3: seeds 1, 2, 3 learned at epochs 7,
9, 9 (at 2e-3 seed 2 had not learned after 24 epochs, nor at 5e-3). GRU 3e-2: seeds 1, 2, 3
learned at epochs 11, 8, 5. SimpleRNN at GRU's 3e-2, where it fails (as at 2e-3 to 5e-3).
Learning is a phase change whose epoch varies with the seed; 16 epochs leave a margin. Every run is
an ordinary run in the store: a second call is a cache hit, and the page and the CLI read
the same runs (their ids follow from the settings).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from core.cells import CELL_NAMES
from core.compare import mean_std as _mean_std
from core.config import RunSpec

CELLS = ("rnn", "lstm", "gru")
LAG = 40
LEARNING_RATE = {"lstm": 1e-3, "gru": 3e-2, "rnn": 3e-2}
SEEDS = 3
FIRST_SEED = 1
SETTINGS = dict(
    source="task", task="marked-memory", ticker="marked-memory", lag=LAG, lookback=LAG + 10,
    n_train=2000, n_val=500, n_test=500, task_seed=0,
    units=16, layers=1, batch_size=16, epochs=16, patience=0, probe_size=64,
)  # fmt: skip


def specs(seeds: int = SEEDS) -> list[tuple[str, int, RunSpec]]:
    """(cell, seed, spec) of every preset run, cells in CELLS order."""
    base = RunSpec().replace(**SETTINGS)
    out = []
    for cell in CELLS:
        for seed in range(FIRST_SEED, FIRST_SEED + seeds):
            spec = base.replace(cell=cell, seed=seed, learning_rate=LEARNING_RATE[cell])
            out.append((cell, seed, spec.validate()))
    return out


def _gradient_ratio(gtt: dict | None, lag: int) -> float | None:
    """g_lag / g_0 of the kept weights' gradients through time."""
    norms = ((gtt or {}).get("kept") or {}).get("norms") or []
    if len(norms) <= lag or not norms[0] or norms[lag] is None:
        return None
    return float(norms[lag]) / float(norms[0])


def report(store: Any, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per cell, mean ± std over its finished seeds: skill, memory horizon (kept weights),
    step factor of the layer, and the kept g_lag/g_0 as a power of ten (geometric mean)."""
    cells: dict[str, Any] = {}
    for cell in CELLS:
        mine = [r for r in runs if r["cell"] == cell]
        if not mine:
            continue
        done = [r for r in mine if store.status(r["run_id"]).get("state") == "done"]
        sums = [store.summary(r["run_id"]) or {} for r in done]
        ratios = [_gradient_ratio(store.gradients_through_time(r["run_id"]), LAG) for r in done]
        logs = [math.log10(x) if x else -45.0 for x in ratios if x is not None]  # 0: underflow
        cells[cell] = {
            "learning_rate": LEARNING_RATE[cell],
            "seeds": len(mine),
            "done": len(done),
            "skill": _mean_std([(s.get("metrics") or {}).get("skill") for s in sums]),
            "memory_horizon": _mean_std([s.get("memory_horizon") for s in sums]),
            "step_factor": _mean_std([_layer0(s, "step_factor") for s in sums]),
            "log10_gradient_ratio": _mean_std(logs),
        }
    return {"preset": "memory", "task": SETTINGS["task"], "lag": LAG, "T": LAG + 10,
            "cells": cells, "runs": runs}  # fmt: skip


def _layer0(summary: dict, key: str) -> Any:
    return ((summary.get("kept_gates") or {}).get("rnn_0") or {}).get(key)


def run(
    store: Any, train: Callable[[Any, RunSpec], str], seeds: int = SEEDS, log: Callable = print
) -> dict[str, Any]:
    """Train (or reuse) every preset run in turn with train(store, spec) -> run id."""
    start, runs = time.perf_counter(), []
    for cell, seed, spec in specs(seeds):
        log(f"-- memory preset: {CELL_NAMES[cell]} seed {seed} (lr {LEARNING_RATE[cell]:g})")
        rid = train(store, spec)
        runs.append({"run_id": rid, "run_dir": str(store.run_dir(rid)), "cell": cell, "seed": seed})
    out = report(store, runs)
    out["seconds"] = time.perf_counter() - start
    return out


def lines(rep: dict[str, Any]) -> list[str]:
    """The report as the CLI prints it."""

    def ms(d: dict, pattern: str) -> str:
        if d.get("mean") is None:
            return "-"
        spread = pattern.replace("+", "")  # a std has no sign
        return f"{pattern.format(d['mean'])} ± {spread.format(d['std'])}"

    out = [
        f"memory preset: marked-memory, the answer {rep['lag']} steps back (T = {rep['T']}), "
        "test split, mean ± std over seeds",
        "cell        lr      seeds  skill              memory horizon   step factor      "
        f"log10 g_{rep['lag']}/g_0",
    ]
    for cell, c in rep["cells"].items():
        out.append(
            f"{CELL_NAMES[cell]:<10}  {c['learning_rate']:<6g}  {c['done']}/{c['seeds']}    "
            f"{ms(c['skill'], '{:+.3f}'):<17}  {ms(c['memory_horizon'], '{:.1f}'):<15}  "
            f"{ms(c['step_factor'], '{:.3f}'):<15}  {ms(c['log10_gradient_ratio'], '{:.1f}')}"
        )
    if "seconds" in rep:
        out.append(f"{len(rep['runs'])} runs in {rep['seconds']:.0f} s")
    return out
