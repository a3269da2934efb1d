"""Names and words a user reads: run labels, periods, CSV labels, settings in words."""

from __future__ import annotations

from core.periods import run_period, span
from core.runs import RunStore
from core.spec_words import spec_sections
from pages.lib.sources import csv_label
from tests.fakes import make_run


def test_csv_runs_are_named_by_their_file():
    assert csv_label("my_prices.csv") == "my-prices"
    assert csv_label("EURUSD=X daily (2020).csv") == "EURUSD=X-daily-2020"
    assert csv_label("___.csv") == "CSV"  # nothing usable left
    assert len(csv_label("a" * 80 + ".csv")) == 20  # DataSpec's ticker limit


def test_a_runs_period_is_read_from_its_predictions(store_root):
    rid = make_run(store_root, cell="gru", seed=1)
    period = run_period(store_root, rid)
    pred = RunStore(store_root).predictions(rid)
    test = pred[pred["split"] == "test"]
    assert period == {
        "first": f"{pred['date'].min():%Y-%m-%d}",
        "last": f"{pred['date'].max():%Y-%m-%d}",
        "test_first": f"{test['date'].min():%Y-%m-%d}",
        "test_last": f"{test['date'].max():%Y-%m-%d}",
    }
    assert run_period(store_root, "0123456789abcdef") is None  # no such run: no period
    assert span("2010-02-18", "2018-12-31") == "Feb 2010 – Dec 2018" and span(None, "x") == ""


def test_settings_in_words_show_the_dates_used_and_no_nulls(store_root):
    rid = make_run(store_root, cell="lstm", seed=0)
    record = RunStore(store_root).read_json(rid, "spec.json")
    record["spec"]["data"].update(start=None, end=None, csv_sha256=None)
    sections = spec_sections(record, run_period(store_root, rid), ("1999-01-04", "2018-12-31"))
    words = {label: str(value) for lines in sections.values() for label, value in lines}
    assert words["Prices"] == "1999-01-04 to 2018-12-31"  # the file's days, not 'null'
    assert words["Data"] == "^GSPC (bundled sample)" and words["Cell"] == "LSTM"
    assert words["Gradient clipping"] == "off" and "Test split" in words
    assert not any(v in ("None", "null") for v in words.values())
