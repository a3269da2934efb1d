"""Daily prices from three sources: bundled samples, Yahoo Finance (cached), an uploaded CSV.

Every source returns the same shape: a tz-naive, sorted, unique DatetimeIndex named ``date``
and float64 columns ``open, high, low, close, volume`` (+ ``adj_close`` when the source has
it; only ``close`` is guaranteed for a CSV). ``df.attrs`` carries ``source``, ``ticker`` and
``notes``, a list of plain sentences saying what was dropped or substituted, so nothing is
silently changed. Anything a user can get wrong raises DataError with what to do about it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
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
_YAHOO_COLUMNS = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjclose": "adj_close",
    "volume": "volume",
}
# yf.download swallows per-ticker exceptions and logs them; these words in that log mean
# "try again later", anything else with an empty frame means "no such ticker".
_TRANSIENT_WORDS = (
    "ratelimit",
    "too many requests",
    "timeout",
    "timed out",
    "connection",
    "curl",
    "network",
    "resolve host",
    "temporarily",
    "ssl",
)
_sleep = time.sleep  # tests monkeypatch this so retries with backoff run instantly


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
    for max_age_s; on failure `retries` tries with exponential backoff, then a stale cache or
    the bundled copy, with a note. "csv": `csv` is a path, bytes or a binary file object and
    `ticker` is only a label. start/end are inclusive dates applied to every source.
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


# --- yahoo -------------------------------------------------------------------------------


def yahoo_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """cache_dir, else $GRADLAB_YAHOO_CACHE, else <MODELS_CACHE or ./models_cache>/_yahoo."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("GRADLAB_YAHOO_CACHE"):
        return Path(os.environ["GRADLAB_YAHOO_CACHE"])
    return Path(os.environ.get("MODELS_CACHE") or "models_cache") / "_yahoo"


def _cache_path(directory: Path, ticker: str) -> Path:
    # The name is a hash: user text never becomes part of a path.
    return directory / (hashlib.sha256(ticker.upper().encode()).hexdigest()[:32] + ".parquet")


def _read_cache(path: Path) -> tuple[pd.DataFrame, float] | None:
    """The cached frame and its age in seconds, or None when absent or unreadable."""
    try:
        age = time.time() - path.stat().st_mtime
        df = pd.read_parquet(path, engine="pyarrow")
    except Exception:  # a damaged cache is no worse than no cache: refetch
        return None
    if "close" not in df.columns or df.empty:
        return None
    return df, age


def _write_cache(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    try:
        df.to_parquet(tmp, engine="pyarrow", index=True)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the file is data, not a secret
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _load_yahoo(ticker: str, cache_dir, max_age_s: float, retries: int, backoff_s: float):
    symbol = ticker.upper()
    path = _cache_path(yahoo_cache_dir(cache_dir), symbol)
    cached = _read_cache(path)
    if cached is not None and cached[1] <= max_age_s:
        df = cached[0]
        df.attrs = {"source": "yahoo-cache", "ticker": symbol, "notes": []}
        return df
    try:
        df = _download_with_retries(symbol, max(1, int(retries)), backoff_s)
    except _TransientError as exc:
        return _fallback(symbol, cached, str(exc))
    try:
        _write_cache(df, path)
    except OSError as exc:  # a read-only disk should not cost the user their prices
        logging.getLogger(__name__).warning("could not cache %s: %s", symbol, exc)
    df.attrs = {"source": "yahoo", "ticker": symbol, "notes": []}
    return df


class _TransientError(Exception):
    """Yahoo could not be reached (rate limit, timeout, network): worth trying again later."""


def _download_with_retries(symbol: str, tries: int, backoff_s: float) -> pd.DataFrame:
    last = ""
    for attempt in range(tries):
        try:
            return _download(symbol)
        except _TransientError as exc:
            last = str(exc)
        if attempt < tries - 1:
            _sleep(backoff_s * 2**attempt)
    raise _TransientError(f"{last} after {tries} {'try' if tries == 1 else 'tries'}")


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _download(symbol: str) -> pd.DataFrame:
    """One yf.download of the full daily history (the cache is per ticker, not per range)."""
    import yfinance as yf  # lazy: only the yahoo source pays for the import

    logger, capture = logging.getLogger("yfinance"), _LogCapture()
    logger.addHandler(capture)
    try:
        raw = yf.download(
            symbol,
            period="max",
            interval="1d",
            auto_adjust=True,
            multi_level_index=False,
            progress=False,
            threads=False,
        )
    except Exception as exc:  # rate limit, timeout, DNS, anything from the network stack
        raise _TransientError(f"{exc.__class__.__name__}: {exc}") from None
    finally:
        logger.removeHandler(capture)
    df = _normalise_yahoo(raw, symbol)
    if df.empty:
        logged = " ".join(capture.messages)
        low = logged.lower()
        if any(word in low or word in low.replace(" ", "") for word in _TRANSIENT_WORDS):
            raise _TransientError(logged[:200])
        raise DataError(
            f"Yahoo Finance has no prices for {symbol}: unknown or delisted? "
            "check the symbol on finance.yahoo.com"
        )
    return df


def _normalise_yahoo(raw: Any, symbol: str) -> pd.DataFrame:
    if not isinstance(raw, pd.DataFrame) or raw.empty:
        return pd.DataFrame(columns=["close"], index=pd.DatetimeIndex([], name="date"))
    df = raw
    if isinstance(df.columns, pd.MultiIndex):
        df = _flatten(df, symbol)
    names = {c: _YAHOO_COLUMNS.get(_key(c)) for c in df.columns}
    df = df.rename(columns={c: n for c, n in names.items() if n})
    df = df.loc[:, ~df.columns.duplicated()]
    if "close" not in df.columns:
        return pd.DataFrame(columns=["close"], index=pd.DatetimeIndex([], name="date"))
    df = _standardise(df.apply(pd.to_numeric, errors="coerce"))
    prices = [c for c in ("open", "high", "low", "close", "adj_close") if c in df.columns]
    ok = (df[prices] > 0).all(axis=1) & np.isfinite(df.to_numpy()).all(axis=1)
    return df.loc[ok]


def _flatten(df: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Keep the level holding price names ('Close', ...) and this ticker's slice of the other."""
    for level in range(df.columns.nlevels):
        values = df.columns.get_level_values(level)
        if any(_key(v) in _YAHOO_COLUMNS for v in values):
            other = [lv for lv in range(df.columns.nlevels) if lv != level]
            for lv in other:
                tickers = df.columns.get_level_values(lv)
                if symbol in set(tickers):
                    df = df.xs(symbol, axis=1, level=lv)
                    break
            if isinstance(df.columns, pd.MultiIndex):
                df = df.copy()
                df.columns = df.columns.get_level_values(level)
            return df
    df = df.copy()
    df.columns = df.columns.get_level_values(0)
    return df


def _key(name: Any) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _fallback(symbol: str, cached, reason: str) -> pd.DataFrame:
    problem = f"Yahoo Finance could not be reached ({reason})"
    if cached is not None:
        df, age = cached
        df.attrs = {
            "source": "yahoo-stale",
            "ticker": symbol,
            "notes": [f"{problem}; using the cached copy from {age / 86400:.1f} days ago."],
        }
        return df
    bundled = [t for t in BUNDLED if t.upper() == symbol]
    if bundled:
        df = _read_bundled(bundled[0])
        span = f"{df.index[0].date()} to {df.index[-1].date()}"
        df.attrs["notes"] = [f"{problem}; using the bundled {bundled[0]} prices ({span}) instead."]
        return df
    raise DataError(
        f"{problem} and there is no cached copy of {symbol}: try again in a few minutes"
    )
