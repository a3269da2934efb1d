"""The Yahoo Finance source of core.data: yfinance (imported lazily), a per-ticker disk cache,
retries with backoff, and a remembered outage.

core.data.load_prices(source="yahoo") is the way in; this module is its Yahoo half, split
off to keep each module short. Offline, the user meets one line (YahooUnreachable) naming
what to use instead; a stale cached copy of Yahoo's own prices is used with a note, the
bundled copy never silently (the page offers it as an explicit choice).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import data
from core.atomic import atomic_path
from core.data import BUNDLED, _standardise
from core.errors import DataError

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

# After Yahoo could not be reached, no new attempt for this long: every rerun of a page in
# Yahoo mode would otherwise retry three times with backoff. Remembered as the mtime of a
# marker file in the Yahoo cache directory, so the server, workers and the CLI share it.
YAHOO_QUIET_S = 300.0
_DOWN_MARKER = ".unreachable"


class YahooUnreachable(DataError):
    """Yahoo Finance could not be reached (network, DNS, rate limit) and no copy of it is
    cached; ``ticker`` is the symbol asked for, ``bundled`` its bundled name if there is one.
    The message is one line naming what to do instead; the library's own words stay out."""

    def __init__(self, ticker: str, rate_limited: bool = False) -> None:
        self.ticker = ticker
        self.bundled = next((t for t in BUNDLED if t.upper() == ticker.upper()), None)
        what = (
            "Yahoo Finance is refusing requests from this machine for now (rate limit)"
            if rate_limited
            else "Yahoo Finance cannot be reached from this machine"
        )
        super().__init__(f"{what}: use the bundled sample data or upload a CSV instead.")


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
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, engine="pyarrow", index=True)


def _load_yahoo(ticker: str, cache_dir, max_age_s: float, retries: int, backoff_s: float):
    symbol = ticker.upper()
    directory = yahoo_cache_dir(cache_dir)
    path = _cache_path(directory, symbol)
    cached = _read_cache(path)
    if cached is not None and cached[1] <= max_age_s:
        df = cached[0]
        df.attrs = {"source": "yahoo-cache", "ticker": symbol, "notes": []}
        return df
    if _recently_down(directory):
        return _fallback(symbol, cached, "")
    try:
        df = _download_with_retries(symbol, max(1, int(retries)), backoff_s)
    except _TransientError as exc:
        _mark_down(directory)
        return _fallback(symbol, cached, str(exc))
    try:
        _write_cache(df, path)
    except OSError as exc:  # a read-only disk should not cost the user their prices
        logging.getLogger(__name__).warning("could not cache %s: %s", symbol, exc)
    df.attrs = {"source": "yahoo", "ticker": symbol, "notes": []}
    return df


def _recently_down(directory: Path) -> bool:
    try:
        return time.time() - (directory / _DOWN_MARKER).stat().st_mtime < YAHOO_QUIET_S
    except OSError:
        return False


def _mark_down(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / _DOWN_MARKER).touch()
    except OSError:  # then the next request simply tries again
        pass


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
            data._sleep(backoff_s * 2**attempt)  # core.data's: tests patch it there
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
    # Not propagated: with a handler of ours attached, logging's last-resort handler no
    # longer prints yfinance's errors on stderr before our one line.
    propagate, logger.propagate = logger.propagate, False
    try:
        with warnings.catch_warnings():  # yfinance's deprecation warnings, printed before it
            warnings.simplefilter("ignore")
            raw = _yf_download(yf, symbol)
    except Exception as exc:  # rate limit, timeout, DNS, anything from the network stack
        raise _TransientError(f"{exc.__class__.__name__}: {exc}") from None
    finally:
        logger.removeHandler(capture)
        logger.propagate = propagate
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


def _yf_download(yf: Any, symbol: str) -> Any:
    return yf.download(
        symbol,
        period="max",
        interval="1d",
        auto_adjust=True,
        multi_level_index=False,
        progress=False,
        threads=False,
    )


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
    """A stale cached copy of Yahoo's own prices, with a note; else YahooUnreachable. Never
    the bundled copy: that is the user's explicit choice (source 'sample'), not a silent swap."""
    if cached is not None:
        df, age = cached
        df.attrs = {
            "source": "yahoo-stale",
            "ticker": symbol,
            "notes": [
                "Yahoo Finance cannot be reached from this machine; using the cached copy "
                f"from {age / 86400:.1f} days ago."
            ],
        }
        return df
    low = reason.lower().replace(" ", "")
    raise YahooUnreachable(symbol, rate_limited="ratelimit" in low or "toomanyrequests" in low)
