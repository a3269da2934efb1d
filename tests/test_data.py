"""Bundled samples, the common frame contract, fingerprint, price_series, date filters."""

import time

import numpy as np
import pandas as pd
import pytest

from core import data
from core.data import bundled_tickers, fingerprint, load_prices, price_series
from core.errors import DataError

COLUMNS = ["open", "high", "low", "close", "adj_close", "volume"]


def assert_contract(df: pd.DataFrame) -> None:
    assert isinstance(df.index, pd.DatetimeIndex)
    assert df.index.name == "date"
    assert df.index.tz is None
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert "close" in df.columns
    assert set(df.columns) <= set(COLUMNS)
    assert all(df[c].dtype == np.float64 for c in df.columns)
    assert set(df.attrs) >= {"source", "ticker", "notes"}
    assert isinstance(df.attrs["notes"], list)


@pytest.mark.parametrize(
    "ticker, first, last, rows",
    [
        ("^GSPC", "1999-01-04", "2018-12-31", 5031),
        ("AAPL", "2000-03-01", "2013-03-01", 3270),
        ("MSFT", "2000-03-01", "2013-03-01", 3270),
        ("IBM", "2000-03-01", "2013-03-01", 3270),
        ("GOOG", "2004-08-19", "2013-03-01", 2148),
    ],
)
def test_every_bundled_ticker_loads_with_the_contract(ticker, first, last, rows):
    df = load_prices("sample", ticker)
    assert_contract(df)
    assert list(df.columns) == COLUMNS
    assert (df.index[0], df.index[-1], len(df)) == (pd.Timestamp(first), pd.Timestamp(last), rows)
    assert df.attrs == {"source": "sample", "ticker": ticker, "notes": []}
    assert (df[["open", "high", "low", "close", "adj_close"]] > 0).all().all()
    assert (df["high"] >= df["low"]).all()


def test_bundled_tickers_lists_exactly_the_files_shipped():
    assert bundled_tickers() == ["^GSPC", "AAPL", "MSFT", "IBM", "GOOG"]
    for ticker in bundled_tickers():
        assert (data.DATA_DIR / data.BUNDLED[ticker]).stat().st_size < 1_000_000


def test_sample_ticker_match_is_case_insensitive():
    df = load_prices("sample", "^gspc")
    assert df.attrs["ticker"] == "^GSPC"
    assert load_prices("sample", "aapl").equals(load_prices("sample", "AAPL"))


def test_unknown_sample_ticker_lists_the_bundled_ones():
    with pytest.raises(DataError, match=r"'TSLA' is not bundled: pick one of \^GSPC, AAPL"):
        load_prices("sample", "TSLA")


@pytest.mark.parametrize("ticker", ["../etc/passwd", "", "A B", "x" * 21, None, 42])
def test_ticker_is_validated_before_anything(ticker):
    with pytest.raises(DataError, match="is not a ticker symbol"):
        load_prices("sample", ticker)


def test_unknown_source_is_a_data_error():
    with pytest.raises(
        DataError, match="source must be one of 'sample', 'yahoo', 'csv', got 'ftp'"
    ):
        load_prices("ftp", "AAPL")


def test_start_end_are_inclusive():
    df = load_prices("sample", "^GSPC", start="2008-09-15", end="2008-09-19")
    assert list(df.index.strftime("%Y-%m-%d")) == [
        "2008-09-15",
        "2008-09-16",
        "2008-09-17",
        "2008-09-18",
        "2008-09-19",
    ]
    assert df.attrs["source"] == "sample"
    one = load_prices("sample", "^GSPC", start=pd.Timestamp("2008-09-15"), end="2008-09-15")
    assert len(one) == 1


def test_empty_range_says_what_the_data_covers():
    with pytest.raises(DataError, match="the data covers 1999-01-04 to 2018-12-31"):
        load_prices("sample", "^GSPC", start="2020-01-01")
    with pytest.raises(DataError, match="no .* prices between 2008-01-05 and 2008-01-06"):
        load_prices("sample", "^GSPC", start="2008-01-05", end="2008-01-06")  # a weekend


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"start": "2010-02-31"}, "start must be a date like 2010-01-31"),
        ({"end": "soon"}, "end must be a date like 2010-01-31"),
        ({"start": 2010}, "start must be a date like 2010-01-31"),
        ({"start": "2012-01-01", "end": "2011-01-01"}, "start 2012-01-01 is after end 2011-01-01"),
    ],
)
def test_bad_dates_are_data_errors(kwargs, message):
    with pytest.raises(DataError, match=message):
        load_prices("sample", "^GSPC", **kwargs)


def test_fingerprint_is_deterministic_and_sensitive():
    a, b = load_prices("sample", "^GSPC"), load_prices("sample", "^GSPC")
    fp = fingerprint(a)
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert fp == fingerprint(b)
    assert fingerprint(a.iloc[:-1]) != fp
    changed = a.copy()
    changed.iloc[100, changed.columns.get_loc("close")] += 0.01
    assert fingerprint(changed) != fp
    assert fingerprint(a.drop(columns="volume")) != fp
    # the datetime unit is representation, not data
    as_us = a.set_axis(a.index.as_unit("us"), axis=0)
    assert fingerprint(as_us) == fp


def test_fingerprint_of_a_known_frame_is_pinned():
    df = pd.DataFrame(
        {"close": [1.0, 2.0]}, index=pd.DatetimeIndex(["2020-01-01", "2020-01-02"], name="date")
    )
    # Pinned: changing the hashing scheme changes every run id and orphans stored runs.
    assert fingerprint(df) == "faaaf4995914d0f9246cf4956f47936db13910887fae235299b4ec06987da62e"


def test_price_series_prefers_adjusted_close():
    df = load_prices("sample", "AAPL")
    assert price_series(df).equals(df["adj_close"])
    assert price_series(df.drop(columns="adj_close")).equals(df["close"])
    with pytest.raises(DataError, match="no close column"):
        price_series(df[["open"]])


def test_missing_bundled_file_is_a_data_error(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    with pytest.raises(DataError, match="run python data/build_data.py"):
        load_prices("sample", "^GSPC")


def test_bundled_gspc_load_is_cheap():
    load_prices("sample", "^GSPC")  # warm-up: imports, page cache
    best = float("inf")
    for _ in range(5):
        t0 = time.process_time()
        load_prices("sample", "^GSPC")
        best = min(best, time.process_time() - t0)
    print(f"\nbundled ^GSPC load: best of 5 = {best * 1000:.2f} ms of CPU")
    # CPU time with a wide margin (a few ms idle): holds on a saturated box; the 50 ms
    # wall-clock target is measured in bench/, not judged here.
    assert best <= 0.5
