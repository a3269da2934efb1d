"""Where a run's time went, click to saved result: the phases summary.json records.

Each phase is wall seconds measured where it happens: the wait in the queue and for a worker
(from status.json's timestamps), the data, then training.fit's own phases (build, the probe
before training, the first epoch that compiles the step, the later epochs, the probe of the
kept weights), then evaluation and saving. Results shows them in this order; their sum is the
time from the click to the saved run.
"""

from __future__ import annotations

import time
from typing import Any

ORDER = (
    "queue_wait",
    "worker_start",
    "data",
    "build",
    "probe",
    "first_epoch",
    "epochs",
    "kept_probe",
    "evaluation",
    "save",
)
LABELS = {
    "queue_wait": "waiting in the queue",
    "worker_start": "starting a worker (TensorFlow)",
    "data": "loading the data",
    "build": "building the model",
    "probe": "probing gradients before training",
    "first_epoch": "first epoch (compiles the step)",
    "epochs": "later epochs",
    "kept_probe": "probing the kept weights",
    "evaluation": "evaluating",
    "save": "saving",
}


def waits(status: dict[str, Any], began: float, created: float, import_s: float) -> dict:
    """queue_wait and worker_start of a run that began training at `began` (epoch seconds).

    A warm worker records when it claimed the run and when it became ready; the run waited
    for a worker only if that worker became ready after the run was queued. A worker
    process of its own (or the CLI) pays the TensorFlow import inside the run (import_s)."""
    queued = _num(status.get("queued_at"), began)
    claimed = status.get("claimed_ts")
    if isinstance(claimed, (int, float)):
        ready = _num(status.get("worker_ready_ts"), queued)
        start = _num(status.get("worker_started_ts"), queued)
        waited_for_worker = max(0.0, ready - max(queued, start))
        queue_wait = max(0.0, claimed - queued - waited_for_worker)
        return {"queue_wait": queue_wait, "worker_start": waited_for_worker + import_s}
    startup = max(0.0, began - max(queued, created)) if created > queued else 0.0
    return {"queue_wait": max(0.0, began - queued - startup), "worker_start": startup + import_s}


def _num(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) else default


def ordered(phases: dict[str, float]) -> dict[str, float]:
    return {k: round(float(phases[k]), 3) for k in ORDER if k in phases}


def throughput(n_train: int, epochs_run: int, steady: float | None, phases: dict) -> dict:
    """Samples/s, labelled: steady state (epochs after the first) and end to end (every
    phase from the click to the saved run in the denominator)."""
    total = sum(phases.values())
    end_to_end = n_train * epochs_run / total if total > 0 else None
    return {"samples_per_second_steady": steady, "samples_per_second_end_to_end": end_to_end}


def describe(spent: dict[str, Any]) -> str:
    """One line for Results: each recorded phase with its seconds, in order."""
    parts = [
        f"{LABELS[k]} {spent[k]:.1f} s"
        for k in ORDER
        if k in spent and isinstance(spent[k], (int, float))
    ]
    return " · ".join(parts)


def speed_facts(summary: dict[str, Any]) -> list[str]:
    """Samples/s, each figure saying what it counts (older runs: compile included)."""
    steady = summary.get("samples_per_second_steady")
    end = summary.get("samples_per_second_end_to_end")
    out = []
    if isinstance(steady, (int, float)):
        out.append(f"{steady:,.0f} samples/s steady state (first epoch excluded)")
    elif isinstance(summary.get("samples_per_second"), (int, float)):
        out.append(f"{summary['samples_per_second']:,.0f} samples/s (first epoch included)")
    if isinstance(end, (int, float)):
        out.append(f"{end:,.0f} samples/s end to end")
    return out


class Timer:
    """perf_counter seconds of one block: ``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self._t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
