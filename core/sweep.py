"""Sweeps: what to search (cells, ranges, sampler, budget) and where the study lives.

A sweep is a frozen definition: a base RunSpec, the fingerprint of its prices, the cells, the
ranges of up to six settings, a sampler and a budget of trials per cell. Its name is a hash of
everything but the budget, so the same command (or page) finds the same study again and a
larger budget extends it. Studies live in one SQLite database inside the run store
(``<store>/_sweeps/optuna.db``), one Optuna study per cell, so a sweep survives a restart.
Every trial is an ordinary run submitted through core.jobs (core/sweep_run.py drives them).

Everything a user can get wrong is checked by ``validate`` before the store is touched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import atomic
from core.config import CELLS, RANGES, RunSpec, canonical_json
from core.errors import SpecError, UserError

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "none")
# The six settings a sweep may search: log scale by default, and the range the Sweeps page
# starts from; their bounds are the settings' own (core.config.RANGES). The CLI searches the
# DEFAULT_SEARCH ones unless told otherwise, and the page ticks the same.
SEARCHABLE: dict[str, tuple[bool, float, float]] = {
    "learning_rate": (True, 1e-4, 1e-2),
    "units": (True, 4, 64),
    "layers": (False, 1, 2),
    "lookback": (False, 10, 60),
    "dropout": (False, 0.0, 0.3),
    "clipnorm": (True, 0.5, 5.0),
}
DEFAULT_SEARCH = ("learning_rate", "units")
# name -> (kind, log scale by default)
PARAMS: dict[str, tuple[str, bool]] = {
    name: ("int" if RANGES[name].kind is int else "float", log)
    for name, (log, _, _) in SEARCHABLE.items()
}
ALIASES = {"lr": "learning_rate"}
DEFAULT_RANGES = tuple(
    f"{n}={SEARCHABLE[n][1]:g}:{SEARCHABLE[n][2]:g}{':log' if SEARCHABLE[n][0] else ''}"
    for n in DEFAULT_SEARCH
)
MAX_TRIALS = 500
DEFAULT_TRIALS = 6  # per cell, on the page and the command line
# A trial is one of many: shorter than a single run's defaults (20 epochs, patience 5).
TRIAL_DEFAULTS = {"epochs": 10, "patience": 3}
GRID_POINTS = 3  # points per continuous range when the sampler is grid


@dataclass(frozen=True)
class Range:
    """One searched setting: low..high (log or linear), or an explicit list of values."""

    name: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    values: tuple[float, ...] = ()

    @property
    def kind(self) -> str:
        return PARAMS[self.name][0]

    def label(self) -> str:
        if self.values:
            return f"{self.name}={','.join(_num(v) for v in self.values)}"
        return f"{self.name}={_num(self.low)}:{_num(self.high)}{':log' if self.log else ''}"

    def grid(self, points: int = GRID_POINTS) -> list[float]:
        """The values a grid sampler tries: the list, every integer, or `points` spaced ones."""
        if self.values:
            return list(self.values)
        if self.kind == "int" and self.high - self.low + 1 <= points:
            return [int(v) for v in range(int(self.low), int(self.high) + 1)]
        if self.log:
            step = (math.log(self.high) - math.log(self.low)) / max(points - 1, 1)
            raw = [math.exp(math.log(self.low) + i * step) for i in range(points)]
        else:
            raw = [
                self.low + i * (self.high - self.low) / max(points - 1, 1) for i in range(points)
            ]
        vals = (
            [int(round(v)) for v in raw] if self.kind == "int" else [float(f"{v:.6g}") for v in raw]
        )
        return sorted(set(vals))


def _num(v: float) -> str:
    return f"{v:g}"


def _number(name: str, text: str, kind: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"range {name}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SpecError(f"range {name}: {text!r} is not a finite number")
    if kind == "int":
        if value != int(value):
            raise SpecError(f"range {name}: {name} takes whole numbers, got {text!r}")
        return int(value)
    return value


def parse_range(text: str) -> Range:
    """'units=4:64', 'learning_rate=1e-4:1e-2:log', 'layers=1,2' → a checked Range."""
    name, sep, body = text.partition("=")
    name = ALIASES.get(name.strip(), name.strip())
    if not sep or not body.strip():
        raise SpecError(
            f"range {text!r}: write NAME=MIN:MAX[:log] or NAME=V1,V2,... e.g. units=4:64"
        )
    if name not in PARAMS:
        known = ", ".join(PARAMS)
        raise SpecError(f"range {text!r}: unknown parameter {name!r}; sweepable are {known}")
    kind, default_log = PARAMS[name]
    if "," in body:
        values = tuple(
            sorted({_number(name, v.strip(), kind) for v in body.split(",") if v.strip()})
        )
        return check_range(Range(name, min(values), max(values), False, values))
    parts = body.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("log", "linear")):
        raise SpecError(f"range {text!r}: write {name}=MIN:MAX, optionally :log or :linear")
    log = default_log if len(parts) == 2 else parts[2] == "log"
    low, high = _number(name, parts[0], kind), _number(name, parts[1], kind)
    return check_range(Range(name, low, high, log))


def check_range(r: Range) -> Range:
    """min <= max, a log range strictly above 0, and both ends settings a run accepts."""
    if r.low > r.high:
        raise SpecError(f"range {r.name}: min {_num(r.low)} is above max {_num(r.high)}: swap them")
    if r.log and r.low <= 0:
        raise SpecError(
            f"range {r.name}: a log range must stay above 0, got {_num(r.low)}:{_num(r.high)}; "
            f"start it above 0 (e.g. {_num(r.high / 100)}) or add :linear"
        )
    for value in r.values or (r.low, r.high):
        RunSpec().replace(**{r.name: value}).validate()  # SpecError names the allowed range
    return r


@dataclass(frozen=True)
class SweepDef:
    """Everything that defines a sweep; the name hashes all of it except the budget."""

    base: dict[str, Any]  # RunSpec.to_dict() of the settings not searched
    fingerprint: str  # the prices (saved in the store's _data/)
    cells: tuple[str, ...]
    ranges: tuple[Range, ...]
    sampler: str = "tpe"
    trials: int = DEFAULT_TRIALS  # per cell
    pruner: str = "median"

    @property
    def name(self) -> str:
        ident = {k: v for k, v in self.to_dict().items() if k != "trials"}
        return "sweep-" + hashlib.sha256(canonical_json(ident).encode()).hexdigest()[:12]

    def base_spec(self) -> RunSpec:
        return RunSpec.from_dict(self.base)

    def spec_for(self, cell: str, params: dict[str, Any]) -> RunSpec:
        return self.base_spec().replace(cell=cell, **params)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepDef:
        ranges = tuple(Range(**{**r, "values": tuple(r.get("values", ()))}) for r in d["ranges"])
        return cls(**{**d, "cells": tuple(d["cells"]), "ranges": ranges})


def make_def(
    base: RunSpec,
    fingerprint: str,
    cells: list[str],
    ranges: list[Range],
    sampler: str = "tpe",
    trials: int = DEFAULT_TRIALS,
    pruner: str = "median",
) -> SweepDef:
    """A checked definition; raises SpecError with what to change. Writes nothing."""
    if not cells or len(set(cells)) != len(cells) or any(c not in CELLS for c in cells):
        raise SpecError(f"cells must be different ones of {', '.join(CELLS)}, got {cells!r}")
    if sampler not in SAMPLERS:
        raise SpecError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    if pruner not in PRUNERS:
        raise SpecError(f"pruner must be one of {', '.join(PRUNERS)}, got {pruner!r}")
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise SpecError(f"trials must be a whole number from 1 to {MAX_TRIALS}, got {trials!r}")
    names = [r.name for r in ranges]
    if not ranges or len(set(names)) != len(names):
        raise SpecError(f"give each searched setting once, got {names or 'none'}")
    for r in ranges:
        check_range(r)
    base.validate()
    ranges = sorted(ranges, key=lambda r: r.name)
    return SweepDef(
        base.to_dict(), fingerprint, tuple(cells), tuple(ranges), sampler, trials, pruner
    )


def grid_size(d: SweepDef) -> int:
    return math.prod(len(r.grid()) for r in d.ranges)


def budget(d: SweepDef) -> int:
    """Trials per cell: the budget, or the whole grid if that is smaller."""
    return min(d.trials, grid_size(d)) if d.sampler == "grid" else d.trials


def check_data(d: SweepDef, prices: Any) -> None:
    """The longest lookback searched must still leave rows for every split (DataError)."""
    from core import jobs

    lookbacks = [(r.values or (r.high,))[-1] for r in d.ranges if r.name == "lookback"]
    spec = d.base_spec()
    if lookbacks:
        spec = spec.replace(lookback=int(lookbacks[0]))
    jobs.check(spec, prices)


# ---- where it lives --------------------------------------------------------------------


def sweeps_dir(root: Path) -> Path:
    path = root / "_sweeps"
    path.mkdir(parents=True, exist_ok=True)
    return path


def storage_url(root: Path) -> str:
    return f"sqlite:///{sweeps_dir(root) / 'optuna.db'}"


def save_def(root: Path, d: SweepDef) -> Path:
    """_sweeps/<name>.json, atomically: the page and a restart read the definition back."""
    target = sweeps_dir(root) / f"{d.name}.json"
    atomic.write_text(target, json.dumps(d.to_dict(), indent=1, sort_keys=True))
    return target


def load_def(root: Path, name: str) -> SweepDef:
    if not name.startswith("sweep-") or not all(c in "0123456789abcdef" for c in name[6:]):
        raise UserError(f"{name!r} is not a sweep name: pick one from the list of sweeps")
    path = root / "_sweeps" / f"{name}.json"
    try:
        return SweepDef.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise UserError(f"there is no sweep {name}: start it again") from None
    except (ValueError, TypeError, KeyError):
        raise UserError(f"sweep {name}'s definition is damaged: start the sweep again") from None


def list_defs(root: Path) -> list[SweepDef]:
    """Every saved sweep definition, newest first (damaged ones skipped)."""
    folder = root / "_sweeps"
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("sweep-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    out = []
    for path in files:
        try:
            out.append(SweepDef.from_dict(json.loads(path.read_text())))
        except (ValueError, TypeError, KeyError):
            continue
    return out
