"""Compare page: runs already in the store (fake, no training) give a verdict and a table;
new comparisons take their prices from the same sources as Train."""

import datetime as dt
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import compare, jobs
from core.runs import RunStore
from tests.fakes import make_run

APP = Path(__file__).resolve().parents[2] / "app.py"


def open_compare() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    return at.switch_page("pages/compare.py").run()


def test_empty_store_explains_what_to_do(store_root):
    at = open_compare()
    assert not at.exception
    infos = " ".join(i.value for i in at.info)
    assert "No finished runs yet" in infos and "Run a comparison above" in infos


def test_two_seeds_per_cell_from_the_store(store_root):
    ids = {(c, s): make_run(store_root, cell=c, seed=s) for c in ("lstm", "gru") for s in (0, 1)}
    make_run(store_root, cell="lstm", seed=0, epochs=3)  # other settings: a group of its own
    at = open_compare()
    groups = at.selectbox(key="compare_group").options
    assert len(groups) == 2
    four = next(g for g in groups if g.endswith("4 runs"))
    assert "LSTM, GRU" in four
    at.selectbox(key="compare_group").set_value(four)
    at.button(key="compare_stored").click().run()
    assert not at.exception
    assert sorted(at.session_state["compare_run_ids"]) == sorted(ids.values())

    table = at.dataframe[0].value.set_index("cell")
    assert list(table.index) == ["LSTM", "GRU", "naive (tomorrow = today)"]
    assert (table.loc[["LSTM", "GRU"], "runs"] == "2").all()
    assert " ± " in table.loc["LSTM", "RMSE (price)"]
    assert "± +" not in " ".join(table.loc["LSTM"]) and "%" in table.loc["LSTM", "MAPE"]
    captions = " ".join(c.value for c in at.caption)  # which data and days the rows are on
    assert "Data: ^GSPC (bundled sample); test split " in captions
    assert "2015: every row is measured on the same days" in captions
    assert table.loc["LSTM", "parameters"] == "4,385"  # the real default LSTM's count

    # One engine: the page shows exactly core.compare's pairs and verdict for these runs.
    store = RunStore(store_root)
    report = compare.compare(store, compare.runs_by_cell(store, list(ids.values())))
    (pair,) = report["pairs"]
    shown = [m.value for m in at.markdown if m.value.startswith("**LSTM vs GRU:**")]
    assert shown == [f"**LSTM vs GRU:** {pair['verdict']}"]
    assert "Holm" in pair["verdict"]
    # The fakes are seeded, so the verdict is fixed: their errors differ, but not significantly.
    assert "no significant difference" in shown[0], shown[0]
    p_value = float(re.search(r"p = ([0-9.]+)", shown[0]).group(1))
    assert 0.05 < p_value < 1, shown[0]  # the words agree with the number
    assert report["verdict"] in [w.value for w in list(at.warning) + list(at.success)]
    assert any("fewer than 3 seeds" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 3  # val-loss band, gradients band, errors vs naive
    at.radio(key="compare_errors").set_value("price").run()
    price = compare.compare(store, compare.runs_by_cell(store, list(ids.values())), "price")
    shown = [m.value for m in at.markdown if m.value.startswith("**LSTM vs GRU:**")]
    assert shown == [f"**LSTM vs GRU:** {price['pairs'][0]['verdict']}"]


def test_one_cell_says_pick_two(store_root):
    make_run(store_root, cell="gru", seed=0)
    at = open_compare()
    at.button(key="compare_stored").click().run()
    assert not at.exception
    assert any("pick two or more cells" in i.value for i in at.info)


def test_offers_the_train_pages_data_sources(store_root):
    at = open_compare()
    train = AppTest.from_file(str(APP), default_timeout=60).run()
    train = train.switch_page("pages/train.py").run()
    assert at.radio(key="compare_source").options == train.radio(key="train_source").options
    assert at.selectbox(key="compare_sample_ticker").value == "^GSPC"
    # A bundled range opens in 2010: a comparison trains cells x seeds models.
    assert at.date_input(key="compare_dates_sample").value == (
        dt.date(2010, 1, 1),
        dt.date(2018, 12, 31),
    )
    assert any("trading days, 2010-01-04 to 2018-12-31" in c.value for c in at.caption)


def test_waiting_for_a_csv_keeps_the_stored_runs_tab(store_root):
    make_run(store_root, cell="gru", seed=0)
    at = open_compare()
    at.radio(key="compare_source").set_value("CSV upload").run()
    assert not at.exception
    assert any(i.value.startswith("Upload a CSV") for i in at.info)
    assert not _has_submit(at)  # no form to submit until there are prices
    at.button(key="compare_stored").click().run()
    assert not at.exception and at.session_state["compare_run_ids"]


def test_a_malformed_csv_is_a_clear_error(store_root):
    at = open_compare()
    at.radio(key="compare_source").set_value("CSV upload").run()
    at.file_uploader(key="compare_csv").set_value(("x.csv", b"\x00\x01 not prices", "text/csv"))
    at.run()
    assert not at.exception
    assert at.error and "Traceback" not in at.error[0].value
    assert not _has_submit(at)


def _has_submit(at: AppTest) -> bool:
    return any(b.key == "compare_submit" for b in at.get("button"))


def _csv(n: int = 300) -> bytes:
    dates = pd.bdate_range("2012-01-02", periods=n)
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, n)))
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "close": close})
    return frame.to_csv(index=False).encode()


def _yahoo_frame(*args, **kwargs) -> pd.DataFrame:
    index = pd.bdate_range("2019-01-02", periods=400, name="Date")
    close = 50 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.01, len(index))))
    return pd.DataFrame({"Open": close, "High": close, "Low": close, "Close": close}, index=index)


def _choose_csv(at: AppTest) -> dict:
    raw = _csv()
    at.radio(key="compare_source").set_value("CSV upload").run()
    at.file_uploader(key="compare_csv").set_value(("mine.csv", raw, "text/csv")).run()
    at.text_input(key="compare_csv_label").input("MINE").run()
    return dict(source="csv", ticker="MINE", csv_sha256=hashlib.sha256(raw).hexdigest(), rows=300)


def _choose_yahoo(at: AppTest, monkeypatch: pytest.MonkeyPatch) -> dict:
    import yfinance

    monkeypatch.setattr(yfinance, "download", _yahoo_frame)  # offline: a fake answer
    at.radio(key="compare_source").set_value("Yahoo Finance").run()
    at.text_input(key="compare_yahoo_ticker").input("MSFT").run()
    at.date_input(key="compare_dates_yahoo").set_value((dt.date(2019, 1, 1), dt.date(2020, 6, 30)))
    at.run()
    return dict(source="yahoo", ticker="MSFT", csv_sha256=None, rows=390)


@pytest.mark.parametrize("source", ["csv", "yahoo"])
def test_submits_every_cell_on_the_chosen_prices(store_root, monkeypatch, source):
    at = open_compare()
    want = _choose_csv(at) if source == "csv" else _choose_yahoo(at, monkeypatch)
    assert not at.exception and not at.error
    at.number_input(key="compare_lookback").set_value(5)
    at.number_input(key="compare_units").set_value(2)
    at.number_input(key="compare_epochs").set_value(1)
    at.slider(key="compare_seeds").set_value(1)
    at.button(key="compare_submit").click().run()
    store = RunStore(store_root)
    try:
        assert not at.exception and not at.error
        ids = at.session_state["compare_run_ids"]
        specs = [store.spec(rid) for rid in ids]
        assert sorted(s.model.cell for s in specs) == ["gru", "lstm"]
        for spec in specs:
            assert (spec.data.source, spec.data.ticker) == (want["source"], want["ticker"])
            assert spec.data.csv_sha256 == want["csv_sha256"]
        record = store.read_json(ids[0], "spec.json")
        assert len(store.load_prices(record["data_fingerprint"])) == want["rows"]
    finally:  # the submit queued real workers: stop them
        for job in jobs.queue(store):
            jobs.cancel(job["run_id"], store)


def test_survives_a_run_deleted_elsewhere_mid_comparison(store_root):
    ids = [make_run(store_root, cell=c, seed=s) for c in ("lstm", "gru") for s in (0, 1)]
    at = open_compare()
    at.session_state["compare_run_ids"] = ids
    at.run()
    assert not at.exception and at.dataframe
    RunStore(store_root).delete(ids[0])  # another tab or the CLI removes one run
    at.run()
    assert not at.exception
    assert any("deleted elsewhere" in w.value for w in at.warning)
    assert at.session_state["compare_run_ids"] == ids[1:]
    table = at.dataframe[0].value.set_index("cell")
    assert table.loc["LSTM", "runs"] == "1" and table.loc["GRU", "runs"] == "2"


def test_a_comparison_larger_than_the_queue_is_refused_up_front(store_root, monkeypatch):
    monkeypatch.setenv("GRADLAB_MAX_QUEUE", "3")
    at = open_compare()
    _choose_csv(at)
    at.number_input(key="compare_lookback").set_value(5)
    at.slider(key="compare_seeds").set_value(2)  # 2 cells × 2 seeds = 4 runs > 3
    at.button(key="compare_submit").click().run()
    assert not at.exception
    assert any("more than the queue holds" in e.value for e in at.error)
    assert RunStore(store_root).run_ids() == []  # all or nothing: none was submitted


def test_a_csv_ending_before_2010_opens_on_all_of_it(store_root):
    at = open_compare()
    dates = pd.bdate_range("2003-01-02", periods=300)
    raw = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "close": np.linspace(50, 80, 300)})
    at.radio(key="compare_source").set_value("CSV upload").run()
    upload = ("old.csv", raw.to_csv(index=False).encode(), "text/csv")
    at.file_uploader(key="compare_csv").set_value(upload).run()
    assert not at.exception and not at.error
    (picker,) = [d for d in at.date_input if d.key == "compare_dates_csv"]
    assert tuple(picker.value) == (dates[0].date(), dates[-1].date())
