"""Daily prices from three sources: bundled samples, Yahoo Finance (cached), an uploaded CSV.

Every source returns the same shape: a tz-naive, sorted, unique DatetimeIndex named ``date``
and float64 columns ``open, high, low, close, volume`` (+ ``adj_close`` when the source has
it; only ``close`` is guaranteed for a CSV). ``df.attrs`` carries ``source``, ``ticker`` and
``notes``, a list of plain sentences saying what was dropped or substituted, so nothing is
silently changed. Anything a user can get wrong raises DataError with what to do about it.
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from core.config import TICKER_RE
from core.data_csv import parse_csv
from core.errors import DataError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
# Bundled ticker -> file in data/ (built by data/build_data.py). A user's ticker is only ever
# looked up among these keys, so no path is built from user text.
BUNDLED: dict[str, str] = {
    "^GSPC": "gspc.parquet",
    "AAPL": "aapl.parquet",
    "MSFT": "msft.parquet",
    "IBM": "ibm.parquet",
    "GOOG": "goog.parquet",
}
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")
_sleep = time.sleep  # tests monkeypatch this so Yahoo retries with backoff run instantly


def bundled_tickers() -> list[str]:
    """Tickers shipped in data/, usable offline: ['^GSPC', 'AAPL', 'MSFT', 'IBM', 'GOOG']."""
    return list(BUNDLED)


def price_series(df: pd.DataFrame) -> pd.Series:
    """The price to model: split/dividend-adjusted close when present, else close."""
    for column in ("adj_close", "close"):
        if column in df.columns:
            return df[column]
    raise DataError("prices have no close column: load them with core.data.load_prices")


def fingerprint(df: pd.DataFrame) -> str:
    """sha256 hex over the dates and every price column (name + float64 bytes), in fixed order.

    Equal rows give equal fingerprints whatever the source or datetime unit, so a run id
    depends on the data actually used and nothing else.
    """
    h = hashlib.sha256()
    index = pd.DatetimeIndex(df.index).as_unit("ns")
    h.update(np.ascontiguousarray(index.asi8, dtype="<i8").tobytes())
    for column in PRICE_COLUMNS:
        if column in df.columns:
            h.update(column.encode())
            values = df[column].to_numpy(dtype="<f8", na_value=np.nan)
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def load_prices(
    source: str = "sample",
    ticker: str = "^GSPC",
    *,
    csv: str | os.PathLike | bytes | IO[bytes] | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
    cache_dir: str | os.PathLike | None = None,
    max_age_s: float = 86400,
    retries: int = 3,
    backoff_s: float = 1.0,
) -> pd.DataFrame:
    """Load daily prices; see the module docstring for the frame's shape and attrs.

    source "sample": a bundled ticker (case-insensitive). "yahoo": yfinance, cached on disk
    for max_age_s; on failure `retries` tries with exponential backoff, then a stale cache
    with a note, else YahooUnreachable (no new try for YAHOO_QUIET_S after a failure).
    "csv": `csv` is a path, bytes or a binary file object and `ticker` is only a label. start/end are inclusive dates applied to every source.
    """
    if not isinstance(ticker, str) or not TICKER_RE.match(ticker):
        raise DataError(
            f"ticker {ticker!r} is not a ticker symbol: use letters, digits and . - ^ = only "
            "(for example ^GSPC, AAPL, BRK-B)"
        )
    lo, hi = _date_bound("start", start), _date_bound("end", end)
    if lo is not None and hi is not None and lo > hi:
        raise DataError(f"start {lo.date()} is after end {hi.date()}: swap them")
    if source == "sample":
        df = _load_sample(ticker)
    elif source == "yahoo":
        df = _load_yahoo(ticker, cache_dir, max_age_s, retries, backoff_s)
    elif source == "csv":
        if csv is None:
            raise DataError(
                "source 'csv' needs a file: upload a CSV with a date and a close column"
            )
        df = parse_csv(csv)
        df.attrs.update(source="csv", ticker=ticker)
    else:
        raise DataError(f"source must be one of 'sample', 'yahoo', 'csv', got {source!r}")
    return _filter_dates(df, lo, hi)


def _date_bound(name: str, value: Any) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    if not isinstance(value, (str, date, datetime, pd.Timestamp)):
        raise DataError(f"{name} must be a date like 2010-01-31, got {value!r}")
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise DataError(f"{name} must be a date like 2010-01-31, got {value!r}") from None
    if ts is pd.NaT:
        raise DataError(f"{name} must be a date like 2010-01-31, got {value!r}")
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def _filter_dates(
    df: pd.DataFrame, lo: pd.Timestamp | None, hi: pd.Timestamp | None
) -> pd.DataFrame:
    if lo is None and hi is None:
        return df
    attrs = dict(df.attrs)
    mask = np.ones(len(df), dtype=bool)
    if lo is not None:
        mask &= df.index >= lo.normalize()
    if hi is not None:
        mask &= df.index < hi.normalize() + pd.Timedelta(days=1)  # inclusive of the whole day
    out = df.loc[mask]
    out.attrs = attrs
    if out.empty:
        have = f"{df.index[0].date()} to {df.index[-1].date()}" if len(df) else "no rows"
        raise DataError(
            f"no {attrs.get('ticker', '')} prices between {lo.date() if lo is not None else 'the start'}"
            f" and {hi.date() if hi is not None else 'the end'}: the data covers {have}"
        )
    return out


def _standardise(df: pd.DataFrame) -> pd.DataFrame:
    """Float64 price columns in fixed order on a sorted, unique, tz-naive ns index named date."""
    index = pd.DatetimeIndex(df.index)
    if index.tz is not None:
        index = index.tz_localize(None)  # daily bars: keep the exchange's calendar date
    df = df.set_axis(index.normalize().as_unit("ns"), axis=0)
    df = df[[c for c in PRICE_COLUMNS if c in df.columns]].astype("float64")
    df = df[~df.index.duplicated(keep="first")].sort_index()
    df.index.name = "date"
    return df


# --- sample ------------------------------------------------------------------------------


def _load_sample(ticker: str) -> pd.DataFrame:
    matches = [t for t in BUNDLED if t.upper() == ticker.upper()]
    if not matches:
        raise DataError(
            f"{ticker!r} is not bundled: pick one of {', '.join(BUNDLED)} "
            "or use source 'yahoo' or 'csv'"
        )
    return _read_bundled(matches[0])


def _read_bundled(ticker: str) -> pd.DataFrame:
    path = DATA_DIR / BUNDLED[ticker]
    try:
        df = pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError) as exc:
        raise DataError(
            f"bundled data for {ticker} is missing or damaged ({exc.__class__.__name__}): "
            "run python data/build_data.py"
        ) from None
    df.attrs = {"source": "sample", "ticker": ticker, "notes": []}
    return df


# The Yahoo half lives in core.data_yahoo; imported last (it reads BUNDLED and _standardise
# from here) and re-exported, so callers keep using core.data.
from core.data_yahoo import YAHOO_QUIET_S as YAHOO_QUIET_S  # noqa: E402
from core.data_yahoo import YahooUnreachable as YahooUnreachable  # noqa: E402
from core.data_yahoo import _cache_path as _cache_path  # noqa: E402
from core.data_yahoo import _load_yahoo  # noqa: E402
from core.data_yahoo import _write_cache as _write_cache  # noqa: E402
from core.data_yahoo import yahoo_cache_dir as yahoo_cache_dir  # noqa: E402
