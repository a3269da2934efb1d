"""Home's picture of a bundled series: its weekly closes, derived once from the parquet.

The first page reads them from a small JSON file beside the parquet (no pandas, no pyarrow:
importing pandas was most of a newcomer's first script run). data/build_data.py writes the
file, and tests/test_data_overview.py checks it equals what the parquet gives now, so it
cannot go stale. Building from the parquet needs pandas, imported only then.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import atomic
from core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

# core.data.DATA_DIR, spelled again: core.data imports pandas at its top.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
# Bundled ticker -> its derived file in data/; Home draws ^GSPC only.
OVERVIEW_FILES: dict[str, str] = {"^GSPC": "gspc_weekly.json"}


def weekly_closes(prices: pd.Series) -> pd.Series:
    """The last close of each week, on the day it was quoted: a fifth of the points, same shape."""
    prices = prices.dropna()
    return prices.groupby(prices.index.to_period("W-FRI")).tail(1)


def overview_path(ticker: str) -> Path:
    if ticker not in OVERVIEW_FILES:
        raise DataError(f"no overview of {ticker!r}: there is one of {', '.join(OVERVIEW_FILES)}")
    return DATA_DIR / OVERVIEW_FILES[ticker]


def build_overview(ticker: str) -> dict[str, Any]:
    """From the bundled parquet: trading days, first and last date, and the weekly closes
    (dates as YYYY-MM-DD, closes as float64, which JSON keeps exactly)."""
    from core import data  # lazy: pandas and pyarrow, which load_overview avoids

    prices = data.load_prices(source="sample", ticker=ticker)
    weekly = weekly_closes(data.price_series(prices))
    return {
        "ticker": ticker,
        "rows": len(prices),
        "first": f"{prices.index[0]:%Y-%m-%d}",
        "last": f"{prices.index[-1]:%Y-%m-%d}",
        "dates": [f"{d:%Y-%m-%d}" for d in weekly.index],
        "closes": [float(v) for v in weekly.to_numpy()],
    }


def write_overview(ticker: str) -> Path:
    """Build the ticker's overview and save it beside its parquet (data/build_data.py)."""
    path = overview_path(ticker)
    text = json.dumps(build_overview(ticker), allow_nan=False, separators=(",", ":"))
    atomic.write_text(path, text + "\n")
    return path


def load_overview(ticker: str) -> dict[str, Any]:
    """The saved overview (json only); built from the parquet if the file is missing."""
    path = overview_path(ticker)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return build_overview(ticker)
    except ValueError:  # bad JSON or bytes: a hand-edited or truncated file
        record = None
    if not isinstance(record, dict) or record.get("ticker") != ticker:
        raise DataError(f"{path.name} is damaged: rebuild it with python data/build_data.py")
    return record
