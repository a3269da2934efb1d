"""Rebuild the bundled daily prices in data/ from two dev-time packages (run once, offline).

    python data/build_data.py

Sources (installed by requirements-dev.txt, never needed at runtime):
  - arch: arch/data/sp500/sp500.csv.gz, S&P 500 index 1999-2018 (NCSA licence) -> ^GSPC
  - bokeh-sampledata: bokeh_sampledata/_data/stocks.csv.gz, AAPL MSFT IBM GOOG 2000-2013
    (BSD-3-Clause package; the series are Quandl WIKI prices, declared public domain)

One zstd parquet file per ticker: loading one ticker then reads one small file and nothing else.
The file names come from core.data.BUNDLED so the loader and the builder cannot drift apart.
Then, derived from those files, the weekly closes Home draws (core.overview.OVERVIEW_FILES,
e.g. gspc_weekly.json): the first page reads them without pandas.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.atomic import atomic_path  # noqa: E402
from core.data import BUNDLED, DATA_DIR  # noqa: E402
from core.overview import OVERVIEW_FILES, write_overview  # noqa: E402

_RENAME = {
    "Date": "date",
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
_COLUMNS = ["open", "high", "low", "close", "adj_close", "volume"]
_BOKEH_TICKERS = ("AAPL", "MSFT", "IBM", "GOOG")  # FB is left out: only 196 rows


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed: pip install -r requirements-dev.txt")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def _normalise(raw: pd.DataFrame, date_format: str) -> pd.DataFrame:
    df = raw.rename(columns=_RENAME)
    df["date"] = pd.to_datetime(df["date"], format=date_format)
    df = df.set_index("date")[_COLUMNS].astype("float64")
    df.index = df.index.as_unit("ns")
    if df.index.duplicated().any() or df.isna().any().any() or (df[_COLUMNS[:5]] <= 0).any().any():
        raise SystemExit("source has duplicate dates or bad prices: inspect it before bundling")
    df = df.sort_index()
    return df


def sources() -> dict[str, pd.DataFrame]:
    """Every bundled ticker's normalised frame, read from the installed source packages."""
    sp500 = pd.read_csv(_package_file("arch", "data", "sp500", "sp500.csv.gz"))
    frames = {"^GSPC": _normalise(sp500, "%m/%d/%Y")}
    stocks = pd.read_csv(_package_file("bokeh_sampledata", "_data", "stocks.csv.gz"))
    for ticker in _BOKEH_TICKERS:
        rows = stocks[stocks["Ticker"] == ticker].drop(columns="Ticker")
        frames[ticker] = _normalise(rows, "%Y-%m-%d")
    return frames


def _write_atomic(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, engine="pyarrow", compression="zstd", index=True)


def main() -> None:
    frames = sources()
    if set(frames) != set(BUNDLED):
        raise SystemExit(f"core.data.BUNDLED {sorted(BUNDLED)} != built {sorted(frames)}")
    for ticker, df in frames.items():
        path = DATA_DIR / BUNDLED[ticker]
        _write_atomic(df, path)
        first, last = df.index[0].date(), df.index[-1].date()
        print(
            f"{ticker:6s} {len(df):5d} rows {first} .. {last} -> {path.name} ({path.stat().st_size} B)"
        )
    for ticker in OVERVIEW_FILES:  # after the parquet files: derived from them
        path = write_overview(ticker)
        print(f"{ticker:6s} weekly closes -> {path.name} ({path.stat().st_size} B)")


if __name__ == "__main__":
    main()
