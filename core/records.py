"""Typed views of the run records (status.json, metrics.jsonl rows, summary.json, listing rows).

On disk the records stay plain JSON with string states; these types say which fields a
reader may find and of what type, after core/store_rows.py has dropped anything of the wrong
shape. Every field may be missing (an old run, a run still training), so each is a
TypedDict with total=False. Readers outside core (the pages) read them through the frozen
views of core/record_views.py and core/record_rows.py, which give every field one type.
The run store's table of files and fields: docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypedDict


class RunState(StrEnum):
    """status.json's "state". A StrEnum: equal to its string, so "done" == RunState.DONE."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DIVERGED = "diverged"


ACTIVE: tuple[RunState, ...] = (RunState.QUEUED, RunState.RUNNING)  # a worker owns the run
FINISHED: tuple[RunState, ...] = (
    RunState.DONE,
    RunState.FAILED,
    RunState.CANCELLED,
    RunState.DIVERGED,
)


class Status(TypedDict, total=False):
    """status.json, as RunStore.status returns it."""

    state: str  # a RunState value
    epoch: int
    epochs: int
    error: str | None
    queued_at: float
    started: str
    started_ts: float
    finished: str
    device: str
    pid: int
    pid_created: float
    executor: str
    owner: str
    updated: str


class MetricsRow(TypedDict, total=False):
    """One metrics.jsonl row: one epoch (docs/ARCHITECTURE.md, "Gradient diagnostics")."""

    epoch: int
    loss: float | None
    val_loss: float | None
    seconds: float
    lr: float
    grad_norm: dict[str, dict[str, float]]  # "global" and each layer: {"mean", "max"}
    clipped_fraction: float
    spectral_radius: dict[str, float]
    memory_horizon: int | None
    gates: dict[str, dict[str, float]]
    step_factor: dict[str, float | None]


class Summary(TypedDict, total=False):
    """summary.json, written last when a run finishes."""

    run_id: str
    metrics: dict[str, Any]  # test metrics, baselines, skill, verdict fields
    params: int
    train_seconds: float
    samples_per_second: float
    best_epoch: int
    epochs_run: int
    device: str
    mixed_precision: bool
    cudnn_eligible: bool
    cudnn_reasons: list[str]
    n_windows: dict[str, int]
    finished: str
    memory_horizon: int | None
    kept_gates: dict[str, dict[str, Any]]
    initial_gates: dict[str, dict[str, Any]]
    checksums: dict[str, str]


class ListingRow(TypedDict):
    """One row of RunStore.list_runs(): every key present (None where unknown);
    the keys are core.store_rows.ROW_KEYS."""

    run_id: str
    ticker: str | None
    source: str | None
    cell: str | None
    layers: int | None
    units: int | None
    lookback: int | None
    epochs: int | None
    seed: int | None
    lr: float | None
    state: str | None
    error: str | None
    rmse: float | None
    skill: float | None
    created: str | None
    duration: float | None
    size_bytes: int | None
    damaged: bool  # the reason is in error
    owner: str | None
    skill_p: float | None
    memory_horizon: int | None
