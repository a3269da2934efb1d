"""Frozen, typed views of the run records, for readers (the pages, the sidebar).

``XView.of(raw)`` takes what a store read returned (a dict, or None for a missing file)
and never raises: a missing field, or one of the wrong type, reads as None (a flag as its
documented default, a map as empty), and a state outside RunState reads as ``state=None``
with the string kept in ``state_text``. Non-finite numbers read as None, as the writers
store them. Each view keeps the dict it was built from in ``raw`` for the core functions
that take the record whole (plots, insight, spec_words). The field lists follow the
writers: core/worker.py (status, summary), core/evaluation.py and core/tasks.py (test
metrics), core/training.py (metrics rows), core/store_rows.py (listing rows).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.records import ACTIVE, FINISHED, RunState

TASK_BASELINE = "training mean"  # core/tasks.py: a memory task's metrics name this baseline


def number(v: Any) -> float | None:
    """v as a float if it is a finite real number (not a bool), else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def integer(v: Any) -> int | None:
    """v if it is an int (not a bool), else None."""
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def flag(v: Any, default: bool) -> bool:
    return v if isinstance(v, bool) else default


def mapping(v: Any) -> dict[str, Any]:
    """v as a dict with string keys if it is a mapping, else {}."""
    return {str(k): x for k, x in v.items()} if isinstance(v, Mapping) else {}


def typed(
    d: dict[str, Any],
    nums: tuple[str, ...] = (),
    ints: tuple[str, ...] = (),
    texts: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The named fields of d, each as number(), integer() or text() reads it."""
    out: dict[str, Any] = {k: number(d.get(k)) for k in nums}
    out.update({k: integer(d.get(k)) for k in ints})
    out.update({k: text(d.get(k)) for k in texts})
    return out


def state_of(v: Any) -> RunState | None:
    """The RunState named by v, or None for anything else (a typo, a number, a missing one)."""
    try:
        return RunState(v) if isinstance(v, str) else None
    except ValueError:
        return None


_STATUS_NUMS = ("queued_at", "started_ts")
_STATUS_INTS = ("epoch", "epochs", "batch", "batches", "batch_epoch")
_STATUS_TEXTS = ("error", "phase", "device", "executor", "owner", "started", "finished", "updated")


@dataclass(frozen=True)
class StatusView:
    """status.json (RunStore.status); the live fields (phase, batch...) only while training."""

    state: RunState | None = None
    state_text: str | None = None  # the state as written, also when it is no RunState
    error: str | None = None
    epoch: int | None = None
    epochs: int | None = None
    phase: str | None = None
    batch: int | None = None
    batches: int | None = None
    batch_epoch: int | None = None
    device: str | None = None
    executor: str | None = None
    owner: str | None = None
    queued_at: float | None = None
    started: str | None = None
    started_ts: float | None = None
    finished: str | None = None
    updated: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, raw: Any) -> StatusView:
        d = mapping(raw)
        return cls(
            state=state_of(d.get("state")),
            state_text=text(d.get("state")),
            raw=d,
            **typed(d, _STATUS_NUMS, _STATUS_INTS, _STATUS_TEXTS),
        )

    @property
    def is_active(self) -> bool:
        """Queued or running: a worker owns the run."""
        return self.state in ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED

    @property
    def is_done(self) -> bool:
        return self.state is RunState.DONE


_ROW_NUMS = ("loss", "val_loss", "seconds", "lr", "clipped_fraction")
_ROW_MAPS = ("grad_norm", "spectral_radius", "gates", "step_factor")


@dataclass(frozen=True)
class MetricsRowView:
    """One metrics.jsonl row (one epoch)."""

    epoch: int | None = None
    loss: float | None = None
    val_loss: float | None = None
    seconds: float | None = None
    lr: float | None = None
    clipped_fraction: float | None = None
    memory_horizon: int | None = None
    grad_norm: dict[str, Any] = field(default_factory=dict)  # "global", layers: {mean, max}
    spectral_radius: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, Any] = field(default_factory=dict)
    step_factor: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: Any) -> MetricsRowView:
        d = mapping(raw)
        maps: dict[str, Any] = {k: mapping(d.get(k)) for k in _ROW_MAPS}
        return cls(**typed(d, _ROW_NUMS, ("epoch", "memory_horizon")), **maps)


def rows_of(raw: Any) -> tuple[MetricsRowView, ...]:
    """Every row of a metrics.jsonl read (a list of dicts; anything else: no rows)."""
    return tuple(MetricsRowView.of(r) for r in raw) if isinstance(raw, list) else ()


@dataclass(frozen=True)
class LagCheck:
    """corr(P̂, P_{t+1}) against corr(P̂, P_t): gap > 0 means the model echoes yesterday."""

    corr_today: float | None = None
    corr_yesterday: float | None = None
    gap: float | None = None

    @classmethod
    def of(cls, raw: Any) -> LagCheck:
        d = mapping(raw)
        return cls(*(number(d.get(k)) for k in ("corr_today", "corr_yesterday", "gap")))


_PRICE_NUMS = ("rmse", "mae", "mape", "naive_rmse", "naive_mae", "naive_mape", "skill")
_MORE_NUMS: tuple[str, ...] = (
    "return_rmse",
    "naive_return_rmse",
    "return_skill",
    "directional_accuracy",
)
_MORE_NUMS += ("direction_baseline", "direction_p_value", "mse", "baseline_mse")


@dataclass(frozen=True)
class TestMetrics:
    """summary["metrics"]: the test split beside its baseline. On prices (core/evaluation.py)
    the baseline is tomorrow = today; a memory task's (core/tasks.py) is the training mean,
    with mse/baseline_mse and no prices, returns or direction."""

    __test__ = False  # not a pytest test class, whatever its name

    rmse: float | None = None
    mae: float | None = None
    mape: float | None = None
    naive_rmse: float | None = None
    naive_mae: float | None = None
    naive_mape: float | None = None
    skill: float | None = None
    return_rmse: float | None = None
    naive_return_rmse: float | None = None
    return_skill: float | None = None
    directional_accuracy: float | None = None
    direction_baseline: float | None = None  # the majority direction's share of test days
    direction_p_value: float | None = None  # binomial test against direction_baseline
    mse: float | None = None
    baseline_mse: float | None = None
    dm_stat: float | None = None  # Diebold-Mariano against the naive forecast
    dm_p_value: float | None = None
    verdict_vs_naive: str | None = None  # the sentence, e.g. "beats tomorrow = today (p = …)"
    baseline: str | None = None  # "training mean" on a memory task, absent on prices
    n: int | None = None  # test days (samples on a task)
    lag_check: LagCheck = field(default_factory=LagCheck)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, raw: Any) -> TestMetrics:
        d = mapping(raw)
        dm = mapping(d.get("dm_vs_naive"))
        return cls(
            **typed(d, _PRICE_NUMS + _MORE_NUMS),
            dm_stat=number(dm.get("stat")),
            dm_p_value=number(dm.get("p_value")),
            verdict_vs_naive=text(d.get("verdict_vs_naive")),
            baseline=text(d.get("baseline")),
            n=integer(d.get("n")),
            lag_check=LagCheck.of(d.get("lag_check")),
            raw=d,
        )

    @property
    def is_task(self) -> bool:
        """A memory task's metrics: errors against the training mean, not a naive day."""
        return self.baseline == TASK_BASELINE


@dataclass(frozen=True)
class CompileChoice:
    """summary["compile"] (core/compile_choice.py): XLA or not, and why."""

    xla: bool | None = None
    why: str | None = None
    work: float | None = None
    reused: bool | None = None  # a warm worker's kept model (core/warm_models.py)

    @classmethod
    def of(cls, raw: Any) -> CompileChoice:
        d = mapping(raw)
        xla, reused = d.get("xla"), d.get("reused")
        return cls(
            xla if isinstance(xla, bool) else None,
            text(d.get("why")),
            number(d.get("work")),
            reused if isinstance(reused, bool) else None,
        )

    def words(self) -> str | None:
        """How the steps were compiled and why, for Results (None: not recorded)."""
        if self.xla is None:
            return None
        how = "compiled with XLA" if self.xla else "graph mode without XLA"
        out = f"{how} ({self.why})" if self.why else how
        if self.reused:
            out += (
                "; the steps were already compiled in this warm worker, reused at this run's start"
            )
        return out


_SUMMARY_NUMS: tuple[str, ...] = (
    "train_seconds",
    "samples_per_second",
    "samples_per_second_steady",
)
_SUMMARY_NUMS += ("samples_per_second_end_to_end",)
_SUMMARY_INTS = ("params", "best_epoch", "epochs_run", "memory_horizon")
_SUMMARY_TEXTS = ("device", "backend", "executor", "finished")


@dataclass(frozen=True)
class SummaryView:
    """summary.json, written last when a run finishes; ``found`` is False before that (and
    for an unreadable one), when every field reads as its default."""

    found: bool = False
    metrics: TestMetrics = field(default_factory=TestMetrics)
    params: int | None = None
    train_seconds: float | None = None
    samples_per_second: float | None = None  # first epoch included (older runs' only figure)
    samples_per_second_steady: float | None = None
    samples_per_second_end_to_end: float | None = None
    best_epoch: int | None = None
    epochs_run: int | None = None
    device: str | None = None
    backend: str | None = None
    executor: str | None = None
    mixed_precision: bool = False
    wavefront: bool = False
    cudnn_eligible: bool = True
    memory_horizon: int | None = None  # steps, of the kept weights (core/gates.py)
    finished: str | None = None
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase (core/phases.py)
    compile: CompileChoice = field(default_factory=CompileChoice)
    kept_gates: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_windows: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, raw: Any) -> SummaryView:
        if not isinstance(raw, Mapping):
            return cls()
        d = mapping(raw)
        phases = {k: v for k, x in mapping(d.get("phases")).items() if (v := number(x)) is not None}
        gates = {k: mapping(g) for k, g in mapping(d.get("kept_gates")).items()}
        windows = {
            k: n for k, x in mapping(d.get("n_windows")).items() if (n := integer(x)) is not None
        }
        return cls(
            found=True,
            metrics=TestMetrics.of(d.get("metrics")),
            **typed(d, _SUMMARY_NUMS, _SUMMARY_INTS, _SUMMARY_TEXTS),
            mixed_precision=flag(d.get("mixed_precision"), False),
            wavefront=flag(d.get("wavefront"), False),
            cudnn_eligible=flag(d.get("cudnn_eligible"), True),
            phases=phases,
            compile=CompileChoice.of(d.get("compile")),
            kept_gates={k: g for k, g in gates.items() if g},
            n_windows=windows,
            raw=d,
        )

    @property
    def step_factors(self) -> list[float]:
        """Each layer's step factor (kept weights), in layer order; layers without one skipped."""
        found = (number(g.get("step_factor")) for g in self.kept_gates.values())
        return [f for f in found if f is not None]

    @property
    def total_seconds(self) -> float:
        """Every recorded phase, from the click to the saved run."""
        return sum(self.phases.values())
