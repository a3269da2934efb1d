"""Sweeps page: a finished sweep reads as parallel coordinates, a sortable table and the best
per cell; "Open the best per cell in Compare" submits best × seeds and opens Compare; bad
ranges in the form are one message with nothing written; no heavy import at the page's top."""

from __future__ import annotations

import ast
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core import jobs, sweep, sweep_run
from core.runs import RunStore
from tests.fakes import fake_prices
from tests.test_sweep import _fake_submit

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"


def open_sweeps() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    return at.switch_page("pages/sweeps.py").run()


def _finished_sweep(monkeypatch) -> sweep.SweepDef:
    store = RunStore()
    fp = store.save_prices(fake_prices())
    base = sweep.RunSpec().replace(epochs=2, lookback=5, patience=0)
    ranges = [sweep.parse_range("lr=1e-4:1e-2"), sweep.parse_range("units=4:16")]
    d = sweep.make_def(base, fp, ["lstm", "gru"], ranges, "random", 3)
    sweep.save_def(store.root, d)
    with monkeypatch.context() as m:
        m.setattr(jobs, "submit", _fake_submit([]))
        sweep_run.run_sweep(store, d)
    return d


def test_page_imports_nothing_heavy_at_its_top():
    tree = ast.parse((ROOT / "pages" / "sweeps.py").read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name.split(".")[0] for n in top for a in n.names} | {
        (n.module or "").split(".")[0] for n in top if isinstance(n, ast.ImportFrom)
    }
    assert not names & {"tensorflow", "keras", "yfinance", "ray", "optuna"}


def test_empty_store_offers_the_form(store_root):
    at = open_sweeps()
    assert not at.exception
    assert any("No sweeps yet" in i.value for i in at.info)


def test_a_finished_sweep_reads_as_coordinates_table_and_best(store_root, monkeypatch):
    d = _finished_sweep(monkeypatch)
    at = open_sweeps()
    assert not at.exception, at.exception
    assert at.selectbox(key="sweeps_choice").value == d.name
    assert len(at.get("plotly_chart")) == 1
    table = at.dataframe[0].value
    assert len(table) == 6 and set(table["cell"]) == {"LSTM", "GRU"}
    assert list(table["validation loss"]) == sorted(table["validation loss"])
    at.selectbox(key="sweeps_sort").set_value("units").run()
    assert list(at.dataframe[0].value["units"]) == sorted(table["units"])
    best = [m.value for m in at.markdown if m.value.startswith("**Best ")]
    assert len(best) == 2 and all("validation loss" in b for b in best)
    at.radio(key="sweeps_color").set_value("cell").run()
    assert not at.exception


def test_open_best_in_compare_runs_best_settings_over_seeds(store_root, monkeypatch):
    d = _finished_sweep(monkeypatch)
    report = sweep_run.report(RunStore(), d)
    submitted, ids = [], []

    def submit(spec, prices, store):  # a queued run in the store, as jobs.submit leaves one
        submitted.append(spec)
        ids.append((store or RunStore()).create(spec, f"{len(submitted):064x}"))
        return jobs.Submitted(ids[-1], False, "queued")

    monkeypatch.setattr(jobs, "submit", submit)
    at = open_sweeps()
    at.slider(key="sweeps_seeds").set_value(2)
    at.button(key="sweeps_to_compare").click().run()
    assert len(submitted) == 4 and sorted(s.train.seed for s in submitted) == [0, 0, 1, 1]
    for spec in submitted:
        best = report["best"][spec.model.cell]["params"]
        assert spec.model.units == best["units"]
        assert spec.train.learning_rate == best["learning_rate"]
    assert at.session_state["compare_run_ids"] == ids and len(set(ids)) == 4


def test_bad_range_in_the_form_is_one_message_and_writes_nothing(store_root, monkeypatch):
    started = []
    monkeypatch.setattr(sweep_run, "start_background", lambda *a: started.append(a))
    at = open_sweeps()
    at.number_input(key="sweeps_lo_units").set_value(64)
    at.number_input(key="sweeps_hi_units").set_value(8)
    at.button(key="sweeps_start").click().run()
    assert not at.exception
    assert any("min 64 is above max 8" in e.value for e in at.error)
    assert not started and not (store_root / "_sweeps").exists()
