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
from typing import Any, NamedTuple

from core.cells import CELLS
from core.errors import SpecError

SOURCES = ("sample", "yahoo", "csv", "task")
# The day the dashboard's bundled range opens at (Train and Compare): the last decade of the
# file, so the default run trains in seconds. dashboard_default() is that run's spec.
DASHBOARD_FROM = "2010-01-01"
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


class Setting(NamedTuple):
    """A numeric setting's inclusive range and how a form widget steps and shows it."""

    lo: float
    hi: float
    step: float | None = None  # a widget's step; None: Streamlit's (1, or 0.01 for a float)
    fmt: str | None = None  # a widget's printf format; None: Streamlit's
    off: float | None = None  # the widget value that means "off" (the spec's None), below lo

    @property
    def kind(self) -> type:
        return float if isinstance(self.lo, float) or isinstance(self.hi, float) else int


# The one home of each numeric setting's range: validate() checks it, the forms (Train,
# Compare, Sweeps, the memory task) bound their widgets by it (widget()) and the CLI's flags
# say it (describe()); defaults are the spec fields'. tests/test_settings.py holds them to it.
RANGES: dict[str, Setting] = {
    "lookback": Setting(2, 1000),
    "val_frac": Setting(0.05, 0.4),
    "test_frac": Setting(0.05, 0.4),
    "lag": Setting(1, 999),  # below lookback, checked apart
    "n_train": Setting(100, 100_000),
    "n_val": Setting(16, 20_000),
    "n_test": Setting(16, 20_000),
    "task_seed": Setting(0, 2**31 - 1),
    "layers": Setting(1, 4),
    "units": Setting(1, 512),
    # higher drops nearly every input: nothing left to learn from
    "dropout": Setting(0.0, 0.9, step=0.05),
    "recurrent_dropout": Setting(0.0, 0.9, step=0.05),
    # up to 1000: a lab for exploding gradients must be able to make them explode
    "learning_rate": Setting(1e-6, 1000.0, fmt="%g"),
    "batch_size": Setting(1, 8192),
    "epochs": Setting(1, 1000),
    # a global norm of 1e-6 clips every step (tests/test_training.py); 0 in a form = off
    "clipnorm": Setting(1e-6, 100.0, step=0.5, fmt="%g", off=0.0),
    "patience": Setting(0, 1000),
    "seed": Setting(0, 2**31 - 1),
    "probe_size": Setting(1, 1024),
}


# A comparison's own numbers (cells x seeds x walk-forward folds), not a run's: the Compare
# form, `compare --seeds/--folds` and their checks read them here.
SEEDS, DEFAULT_SEEDS = Setting(1, 50), 3  # per cell
FOLDS, DEFAULT_FOLDS = Setting(1, 10), 1  # 1 = the one ordinary test split, off


def bounds(name: str) -> tuple[Any, Any, Any]:
    """(min, max, default) of a setting: RANGES and the spec's default."""
    r = RANGES[name]
    return r.lo, r.hi, _DEFAULTS[name]


def widget(name: str, value: Any = None, *, off: bool = True) -> dict[str, Any]:
    """st.number_input / st.slider keywords for a setting: min, max, value (the spec's default
    unless given), step and format from RANGES; off=False leaves out the "off" value."""
    r = RANGES[name]
    lo = r.off if off and r.off is not None else r.lo
    if value is None:
        value = _DEFAULTS[name] if _DEFAULTS[name] is not None else lo
    kw = {"min_value": lo, "max_value": r.hi, "value": value, "step": r.step, "format": r.fmt}
    kw = {k: v for k, v in kw.items() if v is not None}
    return {k: r.kind(v) if k != "format" else v for k, v in kw.items()}


def describe(name: str) -> str:
    """A CLI flag's help: "1-4, default 1" or "1e-06 to 100, default off"."""
    lo, hi, default = (_show(v) for v in bounds(name))
    sep = "-" if RANGES[name].kind is int else " to "
    return f"{lo}{sep}{hi}, default {default}"


def flag(name: str, what: str = "") -> dict[str, Any]:
    """argparse keywords for a setting's flag: its type, no default of its own (the spec's
    applies) and describe() as help, after what when given."""
    text = f"{what}: {describe(name)}" if what else describe(name)
    return {"type": RANGES[name].kind, "default": None, "dest": name, "help": text}


def _show(value: Any) -> str:
    return "off" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _in_range(name: str, value: Any) -> None:
    lo, hi, _, _, off = RANGES[name]
    kind = RANGES[name].kind
    what = f"between {lo} and {hi}{' (or off)' if off is not None else ''}"
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SpecError(f"{name} must be a whole number {what}, got {value!r}")
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise SpecError(f"{name} must be a number {what}, got {value!r}")
    if not lo <= value <= hi:
        raise SpecError(f"{name} must be {what}, got {value!r}")


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
        _in_range("val_frac", self.val_frac)
        _in_range("test_frac", self.test_frac)
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
        _in_range("dropout", self.dropout)
        _in_range("recurrent_dropout", self.recurrent_dropout)
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
        _in_range("learning_rate", self.learning_rate)
        _in_range("batch_size", self.batch_size)
        _in_range("epochs", self.epochs)
        if self.clipnorm is not None:  # None: no clipping
            _in_range("clipnorm", self.clipnorm)
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


def dashboard_default() -> RunSpec:
    """The run the Train page submits when nothing is changed: RunSpec()'s settings on the
    bundled ^GSPC from DASHBOARD_FROM (what bench/ttr.py times and warm workers prewarm)."""
    return RunSpec().replace(start=DASHBOARD_FROM)
