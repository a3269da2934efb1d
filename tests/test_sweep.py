"""Sweeps: ranges checked before anything is written; a study resumes and reuses its trials.

The driver is tested against a stand-in for jobs.submit that writes each run's per-epoch rows
straight into the store (no TensorFlow), with a validation loss that depends on the settings,
so what the samplers and the resume do is visible in milliseconds.
"""

from __future__ import annotations

import json
import math

import pytest

from core import jobs, sweep, sweep_run
from core.cli import main
from core.config import run_id
from core.errors import SpecError
from core.runs import RunStore, process_identity
from tests.fakes import fake_prices

TINY = ["--epochs", "1", "--units", "4", "--lookback", "5", "--patience", "0"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("units=64:4", "min 64 is above max 4"),
        ("learning_rate=0:0.1:log", "log range must stay above 0"),
        ("clipnorm=-1:1:log", "log range must stay above 0"),
        ("momentum=0:1", "unknown parameter 'momentum'"),
        ("units=4:1000", "units must be between 1 and 512"),
        ("layers=1.5:2", "whole numbers"),
        ("units", "NAME=MIN:MAX"),
    ],
)
def test_bad_ranges_are_one_line_and_write_nothing(store_root, capsys, text, message):
    assert main(["sweep", *TINY, "--range", text, "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert list(store_root.iterdir()) == []


def test_ranges_parse_with_scales_lists_and_grids():
    assert sweep.parse_range("lr=1e-4:1e-2") == sweep.Range("learning_rate", 1e-4, 1e-2, True)
    assert sweep.parse_range("dropout=0:0.5").log is False  # dropout is linear by default
    assert sweep.parse_range("units=4:64:linear").log is False
    assert sweep.parse_range("layers=2,1").values == (1, 2)
    assert sweep.parse_range("layers=1:2").grid() == [1, 2]
    assert sweep.parse_range("learning_rate=1e-4:1e-2:log").grid() == [1e-4, 1e-3, 1e-2]
    with pytest.raises(SpecError, match="give each searched setting once"):
        sweep.make_def(sweep.RunSpec(), "0" * 64, ["lstm"], [sweep.parse_range("units=4:8")] * 2)


def _fake_submit(calls: list[str], die_after: int | None = None):
    """jobs.submit stand-in: a finished run whose val_loss is a bowl around lr=3e-3, units=8."""

    def submit(spec, prices, store):
        if die_after is not None and len(calls) >= die_after:
            raise KeyboardInterrupt  # the driver process dies mid-sweep
        fp = store.save_prices(prices)
        rid = run_id(spec, fp)
        calls.append(rid)
        if store.run_dir(rid).exists():
            return jobs.Submitted(rid, True, "done")
        store.create(spec, fp)
        lr, units = spec.train.learning_rate, spec.model.units
        bowl = (math.log10(lr) - math.log10(3e-3)) ** 2 + (math.log2(units) - 3) ** 2 / 4
        bias = 0.1 if spec.model.cell == "gru" else 0.0
        for epoch in (1, 2):
            store.append_metrics(rid, {"epoch": epoch, "val_loss": 1 + bowl + bias + 0.1 / epoch})
        store.write_status(rid, state="done", epoch=2)
        return jobs.Submitted(rid, False, "queued")

    return submit


def _definition(sampler: str = "tpe", trials: int = 3) -> sweep.SweepDef:
    ranges = [sweep.parse_range("lr=1e-4:1e-2"), sweep.parse_range("units=4:16")]
    base = sweep.RunSpec().replace(epochs=2, units=4, lookback=5, patience=0)
    return sweep.make_def(base, "f" * 64, ["lstm", "gru"], ranges, sampler, trials)


def test_sweep_of_six_trials_resumes_after_a_crash_and_reuses_finished_ones(
    store_root, monkeypatch
):
    store = RunStore()
    d = _definition("random", 3)
    prices = fake_prices()
    d = sweep.SweepDef(**{**d.__dict__, "fingerprint": store.save_prices(prices)})
    calls: list[str] = []
    monkeypatch.setattr(jobs, "submit", _fake_submit(calls, die_after=4))
    with pytest.raises(KeyboardInterrupt):
        sweep_run.run_sweep(store, d)
    first = sweep_run.report(store, d)
    assert [t["state"] for t in first["trials"]].count("complete") == 4
    assert [t["state"] for t in first["trials"]].count("running") == 1  # left by the dead driver

    # The driver may also die inside ask(): a RUNNING trial with none of its settings drawn.
    sweep_run._study(d, "gru", sweep_run._storage(store.root)).ask()
    monkeypatch.setattr(jobs, "submit", _fake_submit(calls))  # "restarted"
    out = sweep_run.run_sweep(store, d)
    states = [t["state"] for t in out["trials"]]
    assert states == ["complete"] * 6, out["trials"]  # both orphans became gru's/lstm's third
    assert all(set(t["params"]) == {"learning_rate", "units"} for t in out["trials"])
    assert len(calls) == 6  # the four finished trials were not submitted again
    assert out["storage"] == f"sqlite:///{store.root}/_sweeps/optuna.db"
    for cell in ("lstm", "gru"):
        mine = [t for t in out["trials"] if t["cell"] == cell]
        best = min(mine, key=lambda t: t["value"])
        assert out["best"][cell] == {k: best[k] for k in ("run_id", "params", "value")}
        assert math.isclose(best["value"], sweep_run.best_val_loss(store, best["run_id"]))
    again = sweep_run.run_sweep(store, d)  # the budget is met: nothing is asked or submitted
    assert again["trials"] == out["trials"] and len(calls) == 6
    assert json.dumps(out, allow_nan=False)


def test_grid_sampler_stops_at_the_grid_and_tpe_runs(store_root, monkeypatch):
    store = RunStore()
    fp = store.save_prices(fake_prices())
    ranges = [sweep.parse_range("layers=1:2"), sweep.parse_range("units=4,8")]
    base = sweep.RunSpec().replace(epochs=2, lookback=5, patience=0)
    d = sweep.make_def(base, fp, ["lstm"], ranges, "grid", trials=50)
    assert sweep.budget(d) == 4
    monkeypatch.setattr(jobs, "submit", _fake_submit([]))
    out = sweep_run.run_sweep(store, d)
    seen = {(t["params"]["layers"], t["params"]["units"]) for t in out["trials"]}
    assert seen == {(1, 4), (1, 8), (2, 4), (2, 8)}
    tpe = sweep.SweepDef(**{**_definition("tpe", 4).__dict__, "fingerprint": fp})
    out = sweep_run.run_sweep(store, tpe)
    assert len(out["trials"]) == 8 and set(out["best"]) == {"lstm", "gru"}


def test_a_hopeless_trial_is_pruned_from_its_epoch_rows(store_root, monkeypatch):
    store = RunStore()
    fp = store.save_prices(fake_prices())
    base = sweep.RunSpec().replace(epochs=2, lookback=5, patience=0)
    d = sweep.make_def(base, fp, ["lstm"], [sweep.parse_range("units=4,8,16,64")], "random", 4)
    study = sweep_run._study(d, "lstm", sweep_run._storage(store.root))
    for units in (4, 8, 16, 64):  # in this order: the hopeless one after three finished
        study.enqueue_trial({"units": units})
    real = _fake_submit([])

    def submit(spec, prices, store):
        sub = real(spec, prices, store)
        if spec.model.units == 64:  # the worst of the bowl, still training
            store.write_status(sub.run_id, state="running", **process_identity())
        return sub

    cancelled: list[str] = []
    monkeypatch.setattr(jobs, "submit", submit)
    monkeypatch.setattr(jobs, "cancel", lambda rid, store: cancelled.append(rid))
    out = sweep_run.run_sweep(store, d, poll_s=0.01)
    assert [t["state"] for t in out["trials"]] == ["complete"] * 3 + ["pruned"]
    hopeless = out["trials"][3]
    assert hopeless["params"] == {"units": 64} and cancelled == [hopeless["run_id"]]
    assert "pruned by the sweep" in store.status(hopeless["run_id"])["error"]
    assert out["best"]["lstm"]["params"] == {"units": 8}
