"""One home for each setting's range and default (core.config.RANGES): validation, the CLI's
flags and every form widget (Train, Compare, Sweeps, the memory task) must agree with it, so
an edit in one place alone fails here."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import cli, sweep
from core.cli_compare import _cells
from core.config import (
    DEFAULT_FOLDS,
    DEFAULT_SEEDS,
    FOLDS,
    RANGES,
    SEEDS,
    TASK_FIELDS,
    RunSpec,
    bounds,
    describe,
)
from core.errors import SpecError, UserError
from core.folds import MAX_FOLDS

APP = Path(__file__).resolve().parents[1] / "app.py"
NOT_ON_CLI = {"val_frac", "test_frac", "recurrent_dropout", "probe_size"}  # spec.json only


def _spec(name: str, value: object) -> RunSpec:
    """The default spec with one setting changed (a memory task for the task's settings)."""
    if name not in TASK_FIELDS:
        return RunSpec().replace(**{name: value})
    lookback = 1000 if name == "lag" else 50  # T above every lag; samples x T under the cap
    return RunSpec().replace(
        source="task", ticker="marked-memory", lookback=lookback, **{name: value}
    )


def _outside(name: str) -> tuple[float, float]:
    lo, hi = RANGES[name].lo, RANGES[name].hi
    if RANGES[name].kind is int:
        return lo - 1, hi + 1
    return math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)


@pytest.mark.parametrize("name", RANGES)
def test_validation_takes_each_bound_and_refuses_just_outside(name):
    lo, hi, default = bounds(name)
    for value in (lo, hi):
        assert _flat(_spec(name, value).validate())[name] == value
    for value in _outside(name):
        with pytest.raises(SpecError, match=f"^{name} must be .*between {lo} and {hi}"):
            _spec(name, value).validate()
    assert isinstance(default, RANGES[name].kind) or default is None


def _train_args(*argv: str) -> object:
    return cli.build_parser().parse_args(["train", *argv])


@pytest.mark.parametrize("name", sorted(set(RANGES) - NOT_ON_CLI))
def test_each_cli_flag_says_the_range_and_the_spec_takes_its_bounds(name):
    actions = {a.dest: a for a in cli.build_parser()._subparsers._group_actions[0].choices[
        "train"]._actions}  # fmt: skip
    action = actions[name]
    assert action.default is None and action.type is RANGES[name].kind  # the spec's default
    assert action.help.endswith(describe(name))
    flag = action.option_strings[0]
    source = ["--source", "task"] if name in TASK_FIELDS else []
    if name == "lag":
        source += ["--lookback", "1000"]
    lo, hi, default = bounds(name)
    spec = cli.spec_from_args(_train_args(*source), _src(source), None)
    assert _flat(spec)[name] == default
    for value in (lo, hi):
        spec = cli.spec_from_args(_train_args(*source, f"{flag}={value}"), _src(source), None)
        assert _flat(spec)[name] == value
    for value in _outside(name):
        with pytest.raises(SpecError, match=f"^{name} must be"):
            cli.spec_from_args(_train_args(*source, f"{flag}={value!r}"), _src(source), None)


def test_every_setting_is_on_the_cli_or_named_as_not():
    dests = {a.dest for a in cli.build_parser()._subparsers._group_actions[0].choices[
        "train"]._actions}  # fmt: skip
    assert set(RANGES) - NOT_ON_CLI <= dests and not NOT_ON_CLI & dests


def test_compare_seeds_and_folds_flags_follow_the_table():
    args = cli.build_parser().parse_args(["compare"])
    assert (args.seeds, args.folds) == (DEFAULT_SEEDS, DEFAULT_FOLDS)
    assert FOLDS.hi == MAX_FOLDS
    for seeds in (SEEDS.lo, SEEDS.hi):
        assert _cells(cli.build_parser().parse_args(["compare", "--seeds", str(seeds)]))
    for seeds in (SEEDS.lo - 1, SEEDS.hi + 1):
        with pytest.raises(UserError, match=f"between {SEEDS.lo} and {SEEDS.hi}"):
            _cells(cli.build_parser().parse_args(["compare", "--seeds", str(seeds)]))


def test_a_sweep_trial_trains_the_same_by_cli_and_page():
    # The page's "Epochs per trial", "Patience" and "Trials" start at these (checked below).
    args = cli.build_parser().parse_args(["sweep"])
    assert (args.epochs, args.patience) == tuple(sweep.TRIAL_DEFAULTS.values())
    assert args.trials == sweep.DEFAULT_TRIALS
    assert [sweep.parse_range(r).name for r in sweep.DEFAULT_RANGES] == list(sweep.DEFAULT_SEARCH)


def _src(source: list[str]) -> str:
    return source[1] if source else "sample"


def _flat(spec: RunSpec) -> dict:
    d = spec.to_dict()
    return d["data"] | d["model"] | d["train"]


# Widget key -> the setting it sets; STARTS: where a widget starts when not at the default.
TRAIN = {
    "train_lookback": "lookback",
    "train_layers": "layers",
    "train_units": "units",
    "train_dropout": "dropout",
    "train_rec_dropout": "recurrent_dropout",
    "train_lr": "learning_rate",
    "train_batch": "batch_size",
    "train_epochs": "epochs",
    "train_clipnorm": "clipnorm",
    "train_pat": "patience",
    "train_seed": "seed",
    "train_task_n": "n_train",
    "train_task_lag": "lag",
}
COMPARE = {
    "compare_lookback": "lookback",
    "compare_layers": "layers",
    "compare_units": "units",
    "compare_dropout": "dropout",
    "compare_lr": "learning_rate",
    "compare_epochs": "epochs",
    "compare_patience": "patience",
}
STARTS = {
    "train_task_lag": bounds("lookback")[2] - 10,  # below the form's T, as the preset's T
    "sweeps_epochs": sweep.TRIAL_DEFAULTS["epochs"],
    "sweeps_patience": sweep.TRIAL_DEFAULTS["patience"],
}


def _widgets(at: AppTest) -> dict:
    return {w.key: w for w in [*at.number_input, *at.slider] if w.key}


def _check(widget: object, name: str, start: object, off: bool = True) -> None:
    r = RANGES[name]
    assert widget.min == (r.off if off and r.off is not None else r.lo), widget.key
    assert widget.max == r.hi, widget.key
    default = bounds(name)[2]
    if start is None:
        start = default if default is not None else widget.min  # None: the "off" value
    assert widget.value == start, widget.key
    if r.step is not None:
        assert widget.step == r.step, widget.key


def test_every_form_widget_is_bounded_and_started_by_the_table(store_root):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at = at.switch_page("pages/train.py").run()
    at.radio(key="train_source").set_value("Memory task").run()
    found = _widgets(at)
    for key, name in TRAIN.items():
        _check(found[key], name, STARTS.get(key))
    at = at.switch_page("pages/compare.py").run()
    found = _widgets(at)
    for key, name in COMPARE.items():
        _check(found[key], name, STARTS.get(key))
    seeds, folds = found["compare_seeds"], found["compare_folds_k"]
    assert (seeds.min, seeds.max, seeds.value) == (SEEDS.lo, SEEDS.hi, DEFAULT_SEEDS)
    assert (folds.min, folds.max, folds.value) == (FOLDS.lo, FOLDS.hi, DEFAULT_FOLDS)
    for name in sweep.SEARCHABLE:  # ticked before the form is drawn (a form commits on submit)
        at.session_state[f"sweeps_on_{name}"] = True
    found = _widgets(at.switch_page("pages/sweeps.py").run())
    for name, (_, low, high) in sweep.SEARCHABLE.items():
        _check(found[f"sweeps_lo_{name}"], name, low, off=False)
        _check(found[f"sweeps_hi_{name}"], name, high, off=False)
    for key in ("sweeps_epochs", "sweeps_patience"):
        _check(found[key], key.removeprefix("sweeps_"), STARTS[key])
    assert found["sweeps_trials"].value == sweep.DEFAULT_TRIALS
