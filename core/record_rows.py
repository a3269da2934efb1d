"""Frozen, typed views of the rest of a run's records: spec.json, the listing and queue
rows, the forecast period and gradients_through_time.json. Same rules as
core/record_views.py: ``of(raw)`` never raises, and a field of the wrong type reads as None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.record_views import flag, integer, mapping, number, state_of, text, typed
from core.records import ACTIVE, RunState


@dataclass(frozen=True)
class RecordView:
    """spec.json: the run's settings (``spec``, as RunSpec.to_dict wrote them) and its
    provenance. The settings stay a dict: RunSpec.from_dict validates them where needed."""

    spec: dict[str, Any] = field(default_factory=dict)
    created: str | None = None
    owner: str | None = None
    data_fingerprint: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, raw: Any) -> RecordView:
        d = mapping(raw)
        versions = {k: v for k, x in mapping(d.get("versions")).items() if (v := text(x))}
        return cls(
            spec=mapping(d.get("spec")),
            created=text(d.get("created")),
            owner=text(d.get("owner")),
            data_fingerprint=text(d.get("data_fingerprint")),
            versions=versions,
            raw=d,
        )

    def setting(self, section: str, key: str) -> Any:
        """spec[section][key], or None where either is missing."""
        return mapping(self.spec.get(section)).get(key)

    @property
    def cell(self) -> str | None:
        return text(self.setting("model", "cell"))


@dataclass(frozen=True)
class Period:
    """core.periods.run_period: first/last forecast day, and of the test split (YYYY-MM-DD)."""

    first: str | None = None
    last: str | None = None
    test_first: str | None = None
    test_last: str | None = None

    @classmethod
    def of(cls, raw: Any) -> Period:
        d = mapping(raw)
        return cls(*(text(d.get(k)) for k in ("first", "last", "test_first", "test_last")))


_LISTING_NUMS = ("lr", "rmse", "skill", "skill_p", "duration")
_LISTING_INTS = ("layers", "units", "lookback", "epochs", "seed", "size_bytes", "memory_horizon")
_LISTING_TEXTS = ("error", "ticker", "source", "cell", "created", "owner")


@dataclass(frozen=True)
class ListingView:
    """One RunStore.list_runs() row (core/store_rows.py); ``period`` once ui.with_periods
    added it. damaged: some file of the run is wrong, the reason in ``error``."""

    run_id: str
    state: RunState | None = None
    state_text: str | None = None
    error: str | None = None
    damaged: bool = False
    ticker: str | None = None
    source: str | None = None
    cell: str | None = None
    layers: int | None = None
    units: int | None = None
    lookback: int | None = None
    epochs: int | None = None
    seed: int | None = None
    lr: float | None = None
    rmse: float | None = None
    skill: float | None = None
    skill_p: float | None = None  # Diebold-Mariano p-value against the naive forecast
    created: str | None = None
    duration: float | None = None
    size_bytes: int | None = None
    owner: str | None = None
    memory_horizon: int | None = None
    period: Period | None = None

    @classmethod
    def of(cls, raw: Any) -> ListingView:
        d = mapping(raw)
        return cls(
            run_id=str(d.get("run_id") or ""),
            state=state_of(d.get("state")),
            state_text=text(d.get("state")),
            damaged=flag(d.get("damaged"), False),
            **typed(d, _LISTING_NUMS, _LISTING_INTS, _LISTING_TEXTS),
            period=Period.of(d["period"]) if isinstance(d.get("period"), dict) else None,
        )

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE

    @property
    def is_done(self) -> bool:
        """Finished with a result that can be shown: done and not damaged."""
        return self.state is RunState.DONE and not self.damaged


@dataclass(frozen=True)
class QueueView:
    """One core.jobs.queue() row: a queued or training run with its progress."""

    run_id: str
    state: RunState | None = None
    epoch: int | None = None
    epochs: int | None = None
    cell: str | None = None  # None when the spec is damaged
    ticker: str | None = None
    seed: int | None = None

    @classmethod
    def of(cls, raw: Any) -> QueueView:
        d = mapping(raw)
        return cls(
            run_id=str(d.get("run_id") or ""),
            state=state_of(d.get("state")),
            **typed(d, (), ("epoch", "epochs", "seed"), ("cell", "ticker")),
        )


@dataclass(frozen=True)
class GradientsView:
    """gradients_through_time.json: ``norms[e][k]`` is g_k after epoch ``epochs[e]``; kept:
    the probe of the weights model.keras keeps (best epoch), where the run recorded it."""

    lags: list[int] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    norms: list[list[float | None]] = field(default_factory=list)
    kept_epoch: int | None = None
    kept_norms: list[float | None] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, raw: Any) -> GradientsView:
        d = mapping(raw)
        norms = [_line(x) for x in d["norms"]] if isinstance(d.get("norms"), list) else []
        epochs = _ints(d.get("epochs")) or list(range(1, len(norms) + 1))
        kept = mapping(d.get("kept"))
        return cls(
            lags=_ints(d.get("lags")),
            epochs=epochs,
            norms=norms,
            kept_epoch=integer(kept.get("epoch")),
            kept_norms=_line(kept.get("norms")),
            raw=d,
        )


def _ints(v: Any) -> list[int]:
    return [i for x in v if (i := integer(x)) is not None] if isinstance(v, list) else []


def _line(v: Any) -> list[float | None]:
    return [number(x) for x in v] if isinstance(v, list) else []
