"""Where the prices come from: the data-source widgets that Train and Compare share.

A bundled sample, a Yahoo Finance ticker with a date range, or an uploaded CSV; each page
calls ``data_source(prefix)`` and gets the prices plus the DataSpec fields that name them.
The widgets sit outside any form on purpose: a new upload or source must show its own
controls at once. Never imports tensorflow/keras/yfinance (core.data fetches Yahoo lazily).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import pandas as pd
import streamlit as st

from core import csv_bounded, data
from core.config import DASHBOARD_FROM, DataSpec
from core.data_csv import MAX_CSV_BYTES  # one limit: core, the pages and the server agree
from core.errors import DataError

SOURCES = {"Bundled sample": "sample", "Yahoo Finance": "yahoo", "CSV upload": "csv"}
SOURCES["Memory task"] = "task"  # synthetic sequences with a known answer (core/tasks.py)
# Where a bundled or uploaded range opens on Train and Compare alike, so their runs compare.
DEFAULT_FROM = dt.date.fromisoformat(DASHBOARD_FROM)  # one home: core/config.py
YAHOO_FROM = dt.date(2015, 1, 1)  # a Yahoo ticker's default range: ten years or so to today


@st.cache_data(show_spinner=False)
def sample_prices(ticker: str) -> pd.DataFrame:
    return data.load_prices(source="sample", ticker=ticker)


@st.cache_data(show_spinner="Fetching prices from Yahoo Finance…", ttl=3600)
def yahoo_prices(ticker: str, start: str, end: str) -> pd.DataFrame:
    return data.load_prices(source="yahoo", ticker=ticker, start=start, end=end)


@st.cache_data(show_spinner="Reading the CSV…", max_entries=4)
def csv_prices(raw: bytes) -> pd.DataFrame:
    # In a child process with its own memory and time budget: a huge upload never grows
    # the server or stalls other visitors (core/csv_bounded.py).
    return csv_bounded.parse_bounded(raw)


def _date_range(key: str, lo: dt.date, hi: dt.date, default: tuple[dt.date, dt.date]) -> tuple:
    picked = st.date_input("Date range", value=default, min_value=lo, max_value=hi, key=key)
    # While the user is between the two clicks of a range the widget holds one date.
    return tuple(picked) if isinstance(picked, (tuple, list)) and len(picked) == 2 else default


def _slice(
    full: pd.DataFrame, key: str, first: dt.date | None = None
) -> tuple[pd.DataFrame, str | None, str | None]:
    """Prices within a picked range (opening at ``first`` when given, else the whole file);
    start/end stay None when the range reaches the file's own first/last day."""
    lo, hi = full.index[0].date(), full.index[-1].date()
    # A file that ends before `first` opens on all of it, not on its last day alone.
    opening = first if first and lo <= first < hi else lo
    start, end = _date_range(key, lo, hi, (opening, hi))
    prices = full.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    return (
        prices,
        None if start == lo else start.isoformat(),
        None if end == hi else end.isoformat(),
    )


def _csv_source(prefix: str, first: dt.date | None) -> tuple[pd.DataFrame, dict] | None:
    upload = st.file_uploader(
        "CSV with a date and a close column", type=["csv"], key=f"{prefix}_csv"
    )
    label_key = f"{prefix}_csv_label"
    if upload is not None and st.session_state.get(f"{prefix}_csv_named") != upload.name:
        st.session_state[label_key] = csv_label(upload.name)  # a new file names its runs
        st.session_state[f"{prefix}_csv_named"] = upload.name
    label = st.text_input("Label for this series (names its runs)", value="CSV", key=label_key)
    if upload is None:
        st.info("Upload a CSV (columns: date, close; open/high/low/volume optional) to go on.")
        return None
    raw = upload.getvalue()
    if len(raw) > MAX_CSV_BYTES:
        raise DataError(
            f"{upload.name} is {len(raw) / 2**20:.1f} MB; the limit is "
            f"{MAX_CSV_BYTES // 2**20} MB: upload daily prices only (date, close, …)"
        )
    prices, start, end = _slice(csv_prices(raw), f"{prefix}_dates_csv", first)
    sha = hashlib.sha256(raw).hexdigest()
    return prices, dict(source="csv", ticker=label.strip(), csv_sha256=sha, start=start, end=end)


def csv_label(file_name: str) -> str:
    """A run label from an uploaded file's name: 'my_prices.csv' -> 'my-prices' (a ticker's
    characters, at most 20, as DataSpec accepts), 'CSV' when nothing is left."""
    stem = re.sub(r"[^A-Za-z0-9^.=\-]+", "-", Path(file_name).stem).strip("-.")[:20]
    return stem if re.search(r"[A-Za-z0-9]", stem) else "CSV"


def _switch_source(prefix: str, choice: str, ticker: str | None = None) -> None:
    """A button's callback: switch the source radio (and the bundled ticker) before rerun."""
    st.session_state[f"{prefix}_source"] = choice
    if ticker:
        st.session_state[f"{prefix}_sample_ticker"] = ticker


def _yahoo_unreachable(prefix: str, exc: data.YahooUnreachable) -> None:
    """One plain line, then the two ways on as buttons: the bundled copy is the user's
    explicit choice (the run then says source 'sample'), never swapped in silently."""
    st.error(str(exc))
    sample = exc.bundled or data.bundled_tickers()[0]
    left, right = st.columns(2)
    left.button(
        f"Use the bundled {sample} sample",
        on_click=_switch_source,
        args=(prefix, "Bundled sample", sample),
        key=f"{prefix}_yahoo_to_sample",
    )
    right.button(
        "Upload a CSV",
        on_click=_switch_source,
        args=(prefix, "CSV upload"),
        key=f"{prefix}_yahoo_to_csv",
    )


def _yahoo_source(prefix: str) -> tuple[pd.DataFrame, dict] | None:
    ticker = st.text_input("Yahoo Finance ticker", value="AAPL", key=f"{prefix}_yahoo_ticker")
    ticker = ticker.strip()
    today = dt.date.today()
    start, end = _date_range(
        f"{prefix}_dates_yahoo", dt.date(1970, 1, 1), today, (YAHOO_FROM, today)
    )
    DataSpec(source="yahoo", ticker=ticker).validate()  # a bad symbol: say so before fetching
    try:
        prices = yahoo_prices(ticker, start.isoformat(), end.isoformat())
    except data.YahooUnreachable as exc:  # core remembers the outage: no retry per rerun
        _yahoo_unreachable(prefix, exc)
        return None
    return prices, dict(source="yahoo", ticker=ticker, start=start.isoformat(), end=end.isoformat())


def data_source(
    prefix: str, first: dt.date | None = DEFAULT_FROM
) -> tuple[pd.DataFrame, dict] | None:
    """The chosen prices and the DataSpec fields that name them (source, ticker, range), or
    None while a CSV upload is awaited or Yahoo cannot be reached (the page says so). Widget keys are
    ``{prefix}_source``, ``{prefix}_sample_ticker``, ``{prefix}_dates_sample`` and so on;
    ``first``: the day a bundled or uploaded range opens at. Raises UserError on bad input."""
    choice = st.radio("Data source", list(SOURCES), horizontal=True, key=f"{prefix}_source")
    source = SOURCES[choice]
    if source == "sample":
        ticker = st.selectbox("Ticker", data.bundled_tickers(), key=f"{prefix}_sample_ticker")
        prices, start, end = _slice(sample_prices(ticker), f"{prefix}_dates_sample", first)
        return prices, dict(source="sample", ticker=ticker, start=start, end=end)
    if source == "yahoo":
        return _yahoo_source(prefix)
    if source == "task":
        return _task_source(prefix)
    return _csv_source(prefix, first)


def _task_source(prefix: str) -> tuple[None, dict]:
    """A memory task: no prices (None); T is the form's lookback, which must exceed the lag
    (otherwise the spec's error says so). The 40-step experiment is the memory preset."""
    from core.config import TASKS, bounds, widget

    c1, c2, c3 = st.columns(3)
    task = c1.selectbox("Task", TASKS, key=f"{prefix}_task")
    # The lag starts below the form's T (its lookback default), as the preset's T = lag + 10.
    lag_kw = widget("lag", bounds("lookback")[2] - 10)
    lag = int(c2.number_input("Lag (steps back)", **lag_kw, key=f"{prefix}_task_lag"))
    n_train = int(c3.number_input("Training samples", **widget("n_train"), key=f"{prefix}_task_n"))
    st.caption(
        "marked-memory: recall the noise value marked `lag` steps back; adding: the sum of two "
        "marked values, the first at least `lag` steps back. Lookback below is T, the sequence "
        "length, and must exceed the lag; skill is measured against predicting the training mean."
    )
    return None, dict(source="task", ticker=task, task=task, lag=lag, n_train=n_train)
