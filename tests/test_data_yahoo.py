"""Yahoo source with yfinance mocked: offline, instant (sleep patched), deterministic."""

import hashlib
import logging
import os
import time

import numpy as np
import pandas as pd
import pytest
import yfinance
from yfinance.exceptions import YFRateLimitError

from core import data
from core.data import load_prices
from core.errors import DataError


def yahoo_frame(n=150, adj=False, tz="America/New_York"):
    """What yf.download returns for one ticker with multi_level_index=False."""
    index = pd.bdate_range("2020-01-01", periods=n, tz=tz, name="Date")
    close = 100 + np.arange(n, dtype=float)
    df = pd.DataFrame(
        {
            "Open": close - 1,
            "High": close + 1,
            "Low": close - 2,
            "Close": close,
            "Volume": np.full(n, 1e6),
        },
        index=index,
    )
    if adj:
        df["Adj Close"] = close * 0.9
    return df


class FakeDownload:
    """Returns or raises the given outcomes in order (the last one repeats); records calls."""

    def __init__(self, *outcomes):
        self.outcomes, self.calls = list(outcomes), []

    def __call__(self, tickers, **kwargs):
        self.calls.append((tickers, kwargs))
        outcome = self.outcomes[min(len(self.calls), len(self.outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        if callable(outcome):
            return outcome()
        return outcome.copy()


@pytest.fixture
def sleeps(monkeypatch):
    waited = []
    monkeypatch.setattr(data, "_sleep", waited.append)
    return waited


def patch(monkeypatch, *outcomes):
    fake = FakeDownload(*outcomes)
    monkeypatch.setattr(yfinance, "download", fake)
    return fake


def cache_file(cache, ticker):
    return cache / (hashlib.sha256(ticker.upper().encode()).hexdigest()[:32] + ".parquet")


def test_download_is_normalised_cached_and_called_as_documented(monkeypatch, tmp_path, sleeps):
    fake = patch(monkeypatch, yahoo_frame())
    df = load_prices("yahoo", "tsla", cache_dir=tmp_path)
    assert df.attrs == {"source": "yahoo", "ticker": "TSLA", "notes": []}
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]  # no Adj Close: absent
    assert df.index.tz is None and df.index.name == "date" and len(df) == 150
    assert df.index[0] == pd.Timestamp("2020-01-01")
    assert all(df[c].dtype == np.float64 for c in df.columns)
    ((ticker, kwargs),) = fake.calls
    assert ticker == "TSLA"
    assert kwargs["auto_adjust"] is True and kwargs["multi_level_index"] is False
    assert kwargs["progress"] is False and kwargs["threads"] is False
    assert os.listdir(tmp_path) == [cache_file(tmp_path, "TSLA").name]  # no temp files left
    assert "TSLA" not in os.listdir(tmp_path)[0]
    assert sleeps == []


def test_adj_close_is_kept_when_present(monkeypatch, tmp_path, sleeps):
    patch(monkeypatch, yahoo_frame(adj=True))
    df = load_prices("yahoo", "TSLA", cache_dir=tmp_path)
    assert list(df.columns) == ["open", "high", "low", "close", "adj_close", "volume"]
    assert df["adj_close"].iloc[0] == pytest.approx(90.0)


def test_multiindex_columns_are_flattened(monkeypatch, tmp_path, sleeps):
    raw = yahoo_frame(adj=True)
    raw.columns = pd.MultiIndex.from_product([raw.columns, ["TSLA"]], names=["Price", "Ticker"])
    patch(monkeypatch, raw)
    df = load_prices("yahoo", "TSLA", cache_dir=tmp_path)
    assert list(df.columns) == ["open", "high", "low", "close", "adj_close", "volume"]
    assert df["close"].iloc[-1] == 249.0


def test_multiindex_ticker_first_picks_this_ticker(monkeypatch, tmp_path, sleeps):
    raw = yahoo_frame()
    other = raw * 2
    both = pd.concat({"TSLA": raw, "F": other}, axis=1)  # group_by="ticker" layout
    patch(monkeypatch, both)
    df = load_prices("yahoo", "TSLA", cache_dir=tmp_path)
    assert df["close"].iloc[0] == 100.0


def test_nan_and_non_positive_rows_from_yahoo_are_dropped(monkeypatch, tmp_path, sleeps):
    raw = yahoo_frame()
    raw.iloc[3, raw.columns.get_loc("Close")] = np.nan
    raw.iloc[4, raw.columns.get_loc("Low")] = 0.0
    patch(monkeypatch, raw)
    df = load_prices("yahoo", "TSLA", cache_dir=tmp_path)
    assert len(df) == 148 and df.notna().all().all()


def test_empty_frame_names_the_ticker_and_is_not_retried(monkeypatch, tmp_path, sleeps):
    fake = patch(monkeypatch, pd.DataFrame())
    with pytest.raises(
        DataError,
        match=r"no prices for NOPE: unknown or delisted\? check the "
        r"symbol on finance.yahoo.com",
    ):
        load_prices("yahoo", "NOPE", cache_dir=tmp_path)
    assert len(fake.calls) == 1 and sleeps == []
    assert os.listdir(tmp_path) == []


def test_rate_limit_retries_with_exponential_backoff_then_fails(monkeypatch, tmp_path, sleeps):
    fake = patch(monkeypatch, YFRateLimitError())
    with pytest.raises(data.YahooUnreachable, match=r"^Yahoo Finance is refusing requests"):
        load_prices("yahoo", "TSLA", cache_dir=tmp_path, backoff_s=0.5)
    assert len(fake.calls) == 3
    assert sleeps == [0.5, 1.0]


def test_rate_limit_logged_by_yfinance_counts_as_transient(monkeypatch, tmp_path, sleeps):
    # Real yf.download catches the exception, logs it and returns an empty frame.
    def swallowed():
        logging.getLogger("yfinance").error("['TSLA']: YFRateLimitError('Too Many Requests.')")
        return pd.DataFrame()

    fake = patch(monkeypatch, swallowed, yahoo_frame())
    df = load_prices("yahoo", "TSLA", cache_dir=tmp_path, backoff_s=2.0)
    assert df.attrs["source"] == "yahoo" and len(fake.calls) == 2 and sleeps == [2.0]


def test_timeout_falls_back_to_stale_cache_with_a_note(monkeypatch, tmp_path, sleeps):
    patch(monkeypatch, yahoo_frame())
    fresh = load_prices("yahoo", "TSLA", cache_dir=tmp_path)
    old = time.time() - 3 * 86400
    os.utime(cache_file(tmp_path, "TSLA"), (old, old))
    fake = patch(monkeypatch, TimeoutError("read timed out"))
    df = load_prices("yahoo", "TSLA", cache_dir=tmp_path, retries=2)
    assert len(fake.calls) == 2 and sleeps == [1.0]
    assert df.attrs["source"] == "yahoo-stale"
    (note,) = df.attrs["notes"]
    assert note.startswith("Yahoo Finance cannot be reached from this machine")
    assert "cached copy from 3.0 days ago" in note
    pd.testing.assert_frame_equal(df, fresh, check_freq=False)


def test_offline_is_one_plain_line_and_never_a_silent_bundled_copy(monkeypatch, tmp_path, sleeps):
    fake = patch(monkeypatch, ConnectionError("curl: (6) Could not resolve host: query2"))
    with pytest.raises(data.YahooUnreachable) as caught:
        load_prices("yahoo", "aapl", cache_dir=tmp_path, start="2010-01-04", end="2010-01-08")
    message = str(caught.value)
    assert message == (
        "Yahoo Finance cannot be reached from this machine: use the bundled sample data or "
        "upload a CSV instead."
    )  # no library internals, no "try again in a few minutes"
    assert caught.value.bundled == "AAPL" and len(fake.calls) == 3


def test_an_outage_is_remembered_so_reruns_do_not_retry(monkeypatch, tmp_path, sleeps):
    fake = patch(monkeypatch, TimeoutError("read timed out"))
    for _ in range(3):  # a page's reruns in Yahoo mode
        with pytest.raises(data.YahooUnreachable):
            load_prices("yahoo", "TSLA", cache_dir=tmp_path)
    assert len(fake.calls) == 3  # the first request's three tries, then none
    marker = tmp_path / ".unreachable"
    old = time.time() - data.YAHOO_QUIET_S - 1
    os.utime(marker, (old, old))  # the quiet period is over: Yahoo is asked again
    patch(monkeypatch, yahoo_frame())
    assert load_prices("yahoo", "TSLA", cache_dir=tmp_path).attrs["source"] == "yahoo"


def test_yfinance_warnings_and_log_lines_do_not_reach_stderr(monkeypatch, tmp_path, capfd):
    import warnings

    def noisy():
        warnings.warn("inplace is deprecated", FutureWarning, stacklevel=1)
        logging.getLogger("yfinance").error("1 Failed download: curl: (6) Could not resolve")
        return pd.DataFrame()

    patch(monkeypatch, noisy)
    with pytest.raises(data.YahooUnreachable):
        load_prices("yahoo", "TSLA", cache_dir=tmp_path, retries=1)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_fresh_cache_never_touches_the_network(monkeypatch, tmp_path, sleeps):
    patch(monkeypatch, yahoo_frame())
    first = load_prices("yahoo", "TSLA", cache_dir=tmp_path)
    fake = patch(monkeypatch, yahoo_frame(n=200))
    again = load_prices("yahoo", "TSLA", cache_dir=tmp_path)
    assert fake.calls == []
    assert again.attrs["source"] == "yahoo-cache"
    pd.testing.assert_frame_equal(again, first, check_freq=False)


def test_stale_cache_is_refreshed_when_yahoo_answers(monkeypatch, tmp_path, sleeps):
    patch(monkeypatch, yahoo_frame())
    load_prices("yahoo", "TSLA", cache_dir=tmp_path)
    fake = patch(monkeypatch, yahoo_frame(n=200))
    df = load_prices("yahoo", "TSLA", cache_dir=tmp_path, max_age_s=0)
    assert len(fake.calls) == 1 and len(df) == 200 and df.attrs["source"] == "yahoo"
    assert len(load_prices("yahoo", "TSLA", cache_dir=tmp_path)) == 200


def test_damaged_cache_is_refetched(monkeypatch, tmp_path, sleeps):
    cache_file(tmp_path, "TSLA").write_bytes(b"not parquet")
    fake = patch(monkeypatch, yahoo_frame())
    assert load_prices("yahoo", "TSLA", cache_dir=tmp_path).attrs["source"] == "yahoo"
    assert len(fake.calls) == 1


def test_cache_dir_comes_from_the_environment(monkeypatch, store_root, sleeps):
    patch(monkeypatch, yahoo_frame())
    load_prices("yahoo", "TSLA")
    cache = data.yahoo_cache_dir()
    assert cache == store_root.parent / "yahoo_cache"
    assert cache_file(cache, "TSLA").exists()
    monkeypatch.delenv("GRADLAB_YAHOO_CACHE")
    assert data.yahoo_cache_dir() == store_root / "_yahoo"


def test_date_filter_applies_to_yahoo(monkeypatch, tmp_path, sleeps):
    patch(monkeypatch, yahoo_frame())
    df = load_prices("yahoo", "TSLA", cache_dir=tmp_path, start="2020-01-06", end="2020-01-10")
    assert len(df) == 5 and df.attrs["source"] == "yahoo"


def test_bad_ticker_is_rejected_before_any_download(monkeypatch, tmp_path, sleeps):
    fake = patch(monkeypatch, yahoo_frame())
    with pytest.raises(DataError, match="is not a ticker symbol"):
        load_prices("yahoo", "../../x", cache_dir=tmp_path)
    assert fake.calls == []
