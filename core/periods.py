"""The dates a run actually covered, read from its predictions: what a label and a table
need to say which runs compare. pyarrow only (no pandas), two columns of one file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from core.config import check_run_id

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def run_period(root: str | Path, run_id: str) -> dict[str, str] | None:
    """{'first', 'last', 'test_first', 'test_last'} as 'YYYY-MM-DD': the first and last
    forecast day of the run and of its test split; None before predictions exist or when
    the file cannot be read (a damaged run is reported elsewhere)."""
    path = Path(root) / check_run_id(run_id) / "predictions.parquet"
    try:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=["date", "split"])
        dates = pc.cast(table.column("date"), "date32")
        test = pc.filter(dates, pc.equal(table.column("split"), "test"))
        bounds = pc.min_max(dates).as_py(), pc.min_max(test).as_py()
    except Exception:  # absent, half-written or hand-edited: no period to show
        return None
    if bounds[0]["min"] is None:
        return None
    out = {"first": bounds[0]["min"], "last": bounds[0]["max"]}
    out.update(
        test_first=bounds[1]["min"] or out["last"], test_last=bounds[1]["max"] or out["last"]
    )
    return {k: v.isoformat() for k, v in out.items()}


def month(day: str | None) -> str:
    """'2018-12-31' -> 'Dec 2018'; anything unreadable as is."""
    try:
        d = dt.date.fromisoformat(str(day))
    except ValueError:
        return str(day)
    return f"{MONTHS[d.month - 1]} {d.year}"


def span(first: str | None, last: str | None) -> str:
    """'Jan 2010 – Dec 2018' (a human date range), '' when either end is unknown."""
    return f"{month(first)} – {month(last)}" if first and last else ""
