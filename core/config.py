"""Settings as frozen dataclasses: the only carrier from widget to CLI flag to spec.json.

A RunSpec plus the fingerprint of the price rows it trains on names a run:
``run_id(spec, fingerprint)`` is the first 16 hex of sha256 over both, so the same
settings on the same data are the same run and are never trained twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from core.cells import CELLS
from core.errors import SpecError

SOURCES = ("sample", "yahoo", "csv", "task")
TASKS = ("marked-memory", "adding")  # core/tasks.py generates them
FEATURES = ("close", "ohlc", "log_volume")
TARGETS = ("return", "price")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")

# A ticker is letters, digits and . - ^ = only: "^GSPC", "BRK-B", "EURUSD=X".
# It is never used as a path; file names are derived from a hash of it.
# \Z, not $: "$" also matches before a trailing newline, and "abc\n" is no id or symbol.
# At least one letter or digit: "." and ".." are not symbols (and must never reach a URL).
TICKER_RE = re.compile(r"^(?=.*[A-Za-z0-9])[A-Za-z0-9^.=\-]{1,20}\Z")
HEX64_RE = re.compile(r"^[0-9a-f]{64}\Z")
RUN_ID_RE = re.compile(r"^[0-9a-f]{16}\Z")
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")  # ASCII digits: \d takes any script's


def _one_of(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise SpecError(f"{name} must be one of {allowed}, got {value!r}")


# The one home of each numeric setting's inclusive range: validate() checks it and the forms
# (Train, Compare, Sweeps) bound their widgets by it (bounds()); defaults are the fields'.
RANGES: dict[str, tuple[float, float]] = {
    "lookback": (2, 1000),
    "val_frac": (0.05, 0.4),
    "test_frac": (0.05, 0.4),
    "lag": (1, 999),
    "n_train": (100, 100_000),
    "n_val": (16, 20_000),
    "n_test": (16, 20_000),
    "task_seed": (0, 2**31 - 1),
    "layers": (1, 4),
    "units": (1, 512),
    "dropout": (0.0, 0.9),  # higher drops nearly every input: nothing left to learn from
    "recurrent_dropout": (0.0, 0.9),
    "batch_size": (1, 8192),
    "epochs": (1, 1000),
    "patience": (0, 1000),
    "seed": (0, 2**31 - 1),
    "probe_size": (1, 1024),
}


def bounds(name: str) -> tuple[Any, Any, Any]:
    """(min, max, default) of a setting, for a form widget: RANGES and the spec's default."""
    lo, hi = RANGES[name]
    return lo, hi, _DEFAULTS[name]


def _in_range(name: str, value: Any, kind: type = int) -> None:
    lo, hi = RANGES[name]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SpecError(f"{name} must be a whole number between {lo} and {hi}, got {value!r}")
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise SpecError(f"{name} must be a number between {lo} and {hi}, got {value!r}")
    if not lo <= value <= hi:
        raise SpecError(f"{name} must be between {lo} and {hi}, got {value!r}")


@dataclass(frozen=True)
class DataSpec:
    source: str = "sample"  # sample: bundled data/, yahoo: yfinance (cached), csv: an upload
    ticker: str = "^GSPC"  # S&P 500 index, bundled 1999-2018; for csv a display label only
    csv_sha256: str | None = None  # csv only: content hash of the upload in the store's data area
    start: str | None = None  # ISO date, inclusive; None = from the first row
    end: str | None = None  # ISO date, inclusive; None = to the last row
    features: tuple[str, ...] = (
        "close",
    )  # close: log return (or level); ohlc adds intraday ranges
    target: str = "return"  # next-day log return; "price" = scaled price level (easy to fool)
    lookback: int = 30  # T input days per window; 30 trains fast and covers ~6 weeks
    val_frac: float = 0.15  # chronological: train | val | test
    test_frac: float = 0.15
    horizon: int = 1  # days ahead; only 1 today, kept so the format need not change later
    # source "task" only (core/tasks.py): synthetic memory sequences of T = lookback steps.
    task: str = "marked-memory"  # marked-memory | adding
    lag: int = 40  # steps back the answer sits (adding: at least this far back); 1 <= lag < T
    n_train: int = 2000  # samples per split, generated from task_seed
    n_val: int = 500
    n_test: int = 500
    task_seed: int = 0  # the data's seed, apart from the model's: every cell sees the same data

    def validate(self) -> None:
        _one_of("source", self.source, SOURCES)
        self._validate_task()
        if not isinstance(self.ticker, str) or not TICKER_RE.match(self.ticker):
            raise SpecError(
                f"ticker {self.ticker!r} is not a ticker symbol: use letters, digits and . - ^ = "
                "only (for example ^GSPC, AAPL, BRK-B)"
            )
        if self.source == "csv" and not (
            isinstance(self.csv_sha256, str) and HEX64_RE.match(self.csv_sha256)
        ):
            raise SpecError("a CSV run needs the uploaded file's sha256: upload the CSV first")
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and DATE_RE.match(value)):
                raise SpecError(f"{name} must be a date like 2010-01-31, got {value!r}")
        if self.start and self.end and self.start > self.end:
            raise SpecError(f"start {self.start} is after end {self.end}: swap them")
        if not self.features or "close" not in self.features:
            raise SpecError("features must include 'close'")
        for f in self.features:
            _one_of("feature", f, FEATURES)
        _one_of("target", self.target, TARGETS)
        _in_range("lookback", self.lookback)
        _in_range("val_frac", self.val_frac, kind=float)
        _in_range("test_frac", self.test_frac, kind=float)
        if self.horizon != 1:
            raise SpecError(f"horizon must be 1 (next day), got {self.horizon!r}")

    def _validate_task(self) -> None:
        if self.source != "task":
            changed = [f for f in TASK_FIELDS if getattr(self, f) != _TASK_DEFAULTS[f]]
            if changed:
                raise SpecError(
                    f"{', '.join(changed)} apply only to memory tasks: set source to 'task' "
                    "or leave them at their defaults"
                )
            return
        _one_of("task", self.task, TASKS)
        _in_range("lag", self.lag)
        if not isinstance(self.lookback, int) or self.lag >= self.lookback:
            raise SpecError(
                f"lag {self.lag} must be below the sequence length T (lookback "
                f"{self.lookback!r}): set lookback to at least {self.lag + 1}, e.g. lag + 10"
            )
        _in_range("n_train", self.n_train)
        _in_range("n_val", self.n_val)
        _in_range("n_test", self.n_test)
        _in_range("task_seed", self.task_seed)
        steps = (self.n_train + self.n_val + self.n_test) * self.lookback
        if steps > 20_000_000:
            raise SpecError(
                f"{steps:,} generated steps (samples x T) is more than 20,000,000: "
                "use fewer samples or a shorter T"
            )


TASK_FIELDS = ("task", "lag", "n_train", "n_val", "n_test", "task_seed")
_TASK_DEFAULTS = {f.name: f.default for f in dataclasses.fields(DataSpec) if f.name in TASK_FIELDS}


@dataclass(frozen=True)
class ModelSpec:
    # lstm | gru | rnn. Which one's gradient vanishes depends on the data, not on the name:
    # on a memory task SimpleRNN's does and the gated cells' need not; on daily returns the
    # gated cells, whose gates stay at their start, forget faster (docs/SCIENCE.md).
    cell: str = "lstm"
    layers: int = 1  # stacked recurrent layers
    units: int = 32  # per layer; 32 is plenty for one noisy return series
    dropout: float = 0.0  # input dropout; cuDNN-safe (recurrent_dropout is not)
    unit_forget_bias: bool = True  # LSTM forget-gate bias 1: the classic fix for early vanishing
    recurrent_dropout: float = 0.0  # > 0 turns off the fused cuDNN kernel on a GPU
    activation: str = "tanh"  # anything else turns off the fused cuDNN kernel on a GPU

    def validate(self) -> None:
        _one_of("cell", self.cell, CELLS)
        _in_range("layers", self.layers)
        _in_range("units", self.units)
        _in_range("dropout", self.dropout, kind=float)
        _in_range("recurrent_dropout", self.recurrent_dropout, kind=float)
        if not isinstance(self.unit_forget_bias, bool):
            raise SpecError(
                f"unit_forget_bias must be true or false, got {self.unit_forget_bias!r}"
            )
        _one_of("activation", self.activation, ACTIVATIONS)


@dataclass(frozen=True)
class TrainSpec:
    optimizer: str = "adam"  # adam | rmsprop | sgd
    learning_rate: float = 1e-3  # Adam's default; SGD wants ~1e-2
    batch_size: int = 64  # small CPUs are fastest around 64 for T=30
    epochs: int = 20  # with patience 5 most ^GSPC runs stop early, well under a minute
    clipnorm: float | None = None  # None = no clipping; else clip the global norm to this
    patience: int = 5  # early stopping on val_loss, best weights restored; 0 = off
    seed: int = 0  # same seed + same spec = same metrics on the CPU
    mixed_precision: bool = False  # float16 compute on a GPU only; ignored on the CPU
    probe_size: int = 64  # windows in the fixed probe batch for gradients through time

    def validate(self) -> None:
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float)):
            raise SpecError(f"learning rate must be a number above 0, got {self.learning_rate!r}")
        if not 0 < self.learning_rate <= 1e3:
            raise SpecError(
                f"learning rate must be above 0 (and at most 1000), got {self.learning_rate!r}"
            )
        _in_range("batch_size", self.batch_size)
        _in_range("epochs", self.epochs)
        if self.clipnorm is not None:
            if isinstance(self.clipnorm, bool) or not isinstance(self.clipnorm, (int, float)):
                raise SpecError(f"clipnorm must be off or a number above 0, got {self.clipnorm!r}")
            if not self.clipnorm > 0:
                raise SpecError(f"clipnorm must be off or above 0, got {self.clipnorm!r}")
        _in_range("patience", self.patience)
        _in_range("seed", self.seed)
        if not isinstance(self.mixed_precision, bool):
            raise SpecError(f"mixed_precision must be true or false, got {self.mixed_precision!r}")
        _in_range("probe_size", self.probe_size)


@dataclass(frozen=True)
class RunSpec:
    data: DataSpec = field(default_factory=DataSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainSpec = field(default_factory=TrainSpec)

    def validate(self) -> RunSpec:
        self.data.validate()
        self.model.validate()
        self.train.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if self.data.source != "task":  # price runs keep the spec (and run id) they always had
            for name in TASK_FIELDS:
                d["data"].pop(name)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSpec:
        """Inverse of to_dict; unknown keys are an error so a typo is never silently ignored."""
        try:
            data = dict(d.get("data", {}))
            if "features" in data:
                data["features"] = tuple(data["features"])
            return cls(
                data=DataSpec(**data),
                model=ModelSpec(**d.get("model", {})),
                train=TrainSpec(**d.get("train", {})),
            )
        except TypeError as exc:
            raise SpecError(f"spec has an unknown or misspelled setting: {exc}") from None

    def replace(self, **changes: Any) -> RunSpec:
        """Copy with section fields changed: replace(cell="gru", seed=3, lookback=60)."""
        sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
        for key, value in changes.items():
            for name in sections:
                if key in {f.name for f in dataclasses.fields(getattr(self, name))}:
                    sections[name][key] = value
                    break
            else:
                raise SpecError(f"unknown setting {key!r}")
        return RunSpec(
            data=dataclasses.replace(self.data, **sections["data"]),
            model=dataclasses.replace(self.model, **sections["model"]),
            train=dataclasses.replace(self.train, **sections["train"]),
        )


def canonical_json(obj: Any) -> str:
    """Key-sorted, compact JSON: equal specs give equal bytes, hence equal run ids."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_id(spec: RunSpec, fingerprint: str) -> str:
    """First 16 hex of sha256(canonical spec JSON + data fingerprint)."""
    payload = canonical_json({"spec": spec.to_dict(), "data_fingerprint": fingerprint})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def check_run_id(value: str) -> str:
    """Return value if it looks like a run id; never let other text near a path."""
    if not isinstance(value, str) or not RUN_ID_RE.match(value):
        shown = repr(value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "…")
        raise SpecError(f"{shown} is not a run id (16 hex characters): pick a run from the list")
    return value


_DEFAULTS: dict[str, Any] = {
    f.name: f.default
    for spec in (DataSpec, ModelSpec, TrainSpec)
    for f in dataclasses.fields(spec)
    if f.name in RANGES
}
