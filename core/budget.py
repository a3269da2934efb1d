"""What a run will cost, estimated before anything trains, and the limits it must fit.

Anyone who reaches the Train form can ask for 4 layers x 512 units x lookback 1000; its
gradient-through-time probe alone once asked TensorFlow for 30 GiB. So every submission
(jobs.check, hence the UI, `train` and `compare`) is priced first and refused in one line,
estimate beside limit, when it exceeds GRADLAB_RUN_MEMORY_MB or GRADLAB_RUN_TIMEOUT_S. While
it trains, core/worker_limits.py holds the worker to the same two limits.

The memory model: backpropagation through time keeps every step's gate activations, so the
peak is windows x steps x layers x units x gates x BYTES_PER_GATE_STEP, for the larger of a
training batch and the probe batch, on top of the TensorFlow runtime. BYTES_PER_GATE_STEP is
fitted to the two measured cases of issue 14 (LSTM, probe 64: 4x512x1000 asked for 30 GiB;
1x512x1000 peaked at 5.9 GB): it gives 29 GiB and 7.3 GB, erring high. The time model: a
fixed cost per batch and time step plus the step's arithmetic at a modest CPU rate; it
answers "hours or days?", not seconds (docs/RELIABILITY.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import overload

from core.cells import GATES as CELL_GATES
from core.config import RunSpec
from core.errors import UserError

GATES = {cell: len(blocks) for cell, blocks in CELL_GATES.items()}  # 4, 3, 1
BYTES_PER_GATE_STEP = 56  # per window, time step, layer, unit and gate (fitted, see above)
RUNTIME_MB = 800  # a worker with TensorFlow and Keras loaded, before the model
STEP_OVERHEAD_S = 100e-6  # per batch and time step: kernel launches, the loop's bookkeeping
FLOPS_PER_S = 20e9  # sustained on small recurrent matmuls on a 2-core CPU
DEFAULT_MEMORY_MB = 4096  # a 2-core, 24 GB box: the server, a warm worker and headroom
DEFAULT_TIMEOUT_S = 4 * 3600


@dataclass(frozen=True)
class Estimate:
    memory_mb: float
    seconds: float  # all epochs, should early stopping not end the run sooner


@overload
def env_count(name: str, default: int, hi: int | None = None) -> int: ...
@overload
def env_count(name: str, default: None, hi: int | None = None) -> int | None: ...
def env_count(name: str, default: int | None, hi: int | None = None) -> int | None:
    """A whole number from 1 (to hi) from the environment, or default when unset: the one
    reader of every such GRADLAB_* setting, so each refusal names the variable and the fix."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    # isascii: "²".isdigit() is True but int("²") fails
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= (hi or int(raw)):
        allowed = f"between 1 and {hi}" if hi else "of at least 1"
        unset = "" if default is None else f" (default {default})"
        raise UserError(
            f"{name} must be a whole number {allowed}, got {raw!r}: fix it or unset it{unset}"
        )
    return int(raw)


def memory_limit_mb() -> int:
    """GRADLAB_RUN_MEMORY_MB: the most memory one run (its whole worker) may use."""
    return env_count("GRADLAB_RUN_MEMORY_MB", DEFAULT_MEMORY_MB)


def timeout_s() -> int:
    """GRADLAB_RUN_TIMEOUT_S: the most wall-clock seconds one run may train."""
    return env_count("GRADLAB_RUN_TIMEOUT_S", DEFAULT_TIMEOUT_S)


def estimate(spec: RunSpec, n_train: int, n_features: int = 1) -> Estimate:
    """Peak memory (MB) and seconds for all epochs of spec on n_train training windows."""
    m, t, lookback = spec.model, spec.train, spec.data.lookback
    gates = GATES.get(m.cell, 4)
    windows = max(min(t.batch_size, max(n_train, 1)), t.probe_size)
    activations = windows * lookback * m.layers * m.units * gates * BYTES_PER_GATE_STEP
    data_bytes = 4 * 3 * n_train * lookback * n_features  # windows as float32, a few copies
    memory_mb = RUNTIME_MB + (activations + data_bytes) / 1024**2
    batches = max(1, -(-n_train // t.batch_size))
    width = m.units + n_features  # first layer; deeper ones see units inputs
    flops = 3 * 2 * gates * m.units * width * t.batch_size * m.layers  # forward + backward
    per_step = STEP_OVERHEAD_S + flops / FLOPS_PER_S
    return Estimate(memory_mb, t.epochs * batches * lookback * per_step)


def check(spec: RunSpec, n_train: int, n_features: int = 1) -> Estimate:
    """Refuse, in one line with estimate and limit, a run that cannot fit its limits."""
    est = estimate(spec, n_train, n_features)
    limit = memory_limit_mb()
    if est.memory_mb > limit:
        raise UserError(
            f"this run would need about {est.memory_mb:,.0f} MB (estimate, gradient probe "
            f"included), above the limit of {limit:,} MB (GRADLAB_RUN_MEMORY_MB): use fewer "
            "units or layers, a shorter lookback or a smaller batch"
        )
    if est.seconds > timeout_s():
        raise UserError(
            f"this run would train for about {_human(est.seconds)} (estimate for "
            f"{spec.train.epochs} epochs), above the limit of {_human(timeout_s())} "
            "(GRADLAB_RUN_TIMEOUT_S): use fewer epochs, units or layers, or a shorter lookback"
        )
    return est


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
