"""Compile only where it pays: XLA's compile against the work a run is expected to do.

XLA fuses each recurrent step's many small ops, which makes every later epoch faster on a
CPU, but compiling costs seconds on the first epoch. A run that does little work (few
windows, short lookback, few epochs, early stopping) finishes sooner without it. The
break-even is measured (docs/BENCHMARKS.md, "Compile only where it pays"); the rule below
is that measurement: XLA when the expected step-work of all epochs exceeds
XLA_BREAK_EVEN_WORK, else Keras' graph mode with the same steps_per_execution.
A warm worker's prewarmed architectures (core/warm_models.py) always get XLA: their compile
is paid before the first click. GRADLAB_XLA=on|off overrides the choice (benchmarks,
experiments).
"""

from __future__ import annotations

import os
from typing import Any

from core.config import RunSpec
from core.errors import UserError

# Step-work = batches x time steps x layers x (units + 1) x epochs expected. Measured on a
# quiet 2-core CPU (docs/BENCHMARKS.md, bench/breakeven.py): XLA pays back its compile at
# 5.6e5 (32 units x 30 steps, 10 epochs) and 3.5e5 (128 x 120, under one epoch), at 3.3e6
# only for 64 x 60, where its saving was 17 %. No single threshold fits all three; this one
# is right for the first and the last and costs the middle up to ~2.4 s.
XLA_BREAK_EVEN_WORK = 6e5
EARLY_STOP_EPOCHS = 3  # with patience p, most runs stop about this many epochs after p


def expected_epochs(spec: RunSpec) -> int:
    """Epochs a run will likely train: all of them, or about patience + a few with early
    stopping (the default run: patience 5 stops after ~7-10 of 20)."""
    t = spec.train
    if t.patience <= 0:
        return t.epochs
    return min(t.epochs, t.patience + EARLY_STOP_EPOCHS)


def step_work(spec: RunSpec, n_train: int) -> float:
    batches = -(-max(n_train, 1) // spec.train.batch_size)
    m = spec.model
    return float(batches * spec.data.lookback * m.layers * (m.units + 1) * expected_epochs(spec))


def choose(spec: RunSpec, n_train: int, base: dict[str, Any], warm: bool = False) -> dict[str, Any]:
    """The compile options for this run, from the backend's fastest steady-state options
    (base) and the expected work: {"options", "xla", "why", "work"}.

    warm: a warm worker runs it and compiles its architecture before any click
    (core/warm_models.py): the compile is paid before the click, so XLA costs nothing."""
    work = step_work(spec, n_train)
    forced = os.environ.get("GRADLAB_XLA", "").strip().lower()
    if forced not in ("", "on", "off"):
        raise UserError(f"GRADLAB_XLA must be on or off, got {forced!r}")
    if not base.get("jit_compile"):  # a GPU (cuDNN) or a backend that never asks for XLA
        return {"options": base, "xla": False, "why": "the backend's default", "work": work}
    if forced:
        use = forced == "on"
        why = f"GRADLAB_XLA={forced}"
    elif warm:
        use = True
        why = "a warm worker compiles this architecture before the first click"
    else:
        use = work >= XLA_BREAK_EVEN_WORK
        side = "above" if use else "below"
        why = f"expected work {work:.3g} {side} the break-even {XLA_BREAK_EVEN_WORK:.3g}"
    options = dict(base) if use else {k: v for k, v in base.items() if k != "jit_compile"}
    return {"options": options, "xla": use, "why": why, "work": work}
