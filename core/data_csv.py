"""Read daily prices from a CSV someone exported from a broker, a spreadsheet or a website.

Tolerant of what those exports really look like (a BOM, ';' or tab delimiters, "Close/Last",
"$1,234.50", newest-first rows, preamble lines) and strict about what it accepts: every row it
drops is counted in a note, and every failure is a DataError that says what to fix.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from typing import IO, Any

import numpy as np
import pandas as pd

from core.errors import DataError

MAX_CSV_BYTES = 50 * 1024 * 1024  # a daily series is a few hundred kB; this leaves room
MIN_ROWS = 100  # below this there is nothing to split into train/val/test windows
_FIRST_YEAR = 1800  # older "dates" are misreadings, not prices
_LAST_YEAR = 2200  # later ones too, and past 2262 they do not fit datetime64[ns]
_HEADER_SCAN_LINES = 20  # exports sometimes put a title or a disclaimer above the header
# Canonical column -> accepted header spellings, compared lower-case with only letters and
# digits kept, so "Adj Close", "adj_close" and "AdjClose" are one name. First match wins.
_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "timestamp", "datetime", "time", "day", "tradedate"),
    "close": ("close", "closelast", "price", "last", "closeprice", "closingprice"),
    "adj_close": ("adjclose", "adjustedclose", "adjclosingprice", "adjcloseprice"),
    "open": ("open", "openprice"),
    "high": ("high", "highprice"),
    "low": ("low", "lowprice"),
    "volume": ("volume", "vol"),
}
_PRICES = ("open", "high", "low", "close", "adj_close")
_ISO = r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:$|[T\s])"
_COMPACT = r"^(\d{4})(\d{2})(\d{2})$"
_TIME = r"[ T](\d{1,2}:\d{2}(?::\d{2})?)"
_US = r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4})(?:$|\s)"


def parse_csv(source: str | os.PathLike | bytes | IO[Any]) -> pd.DataFrame:
    """Prices from a CSV path, bytes or file object; attrs["notes"] lists what was dropped."""
    text = _decode(_read_bytes(source))
    delimiter = _sniff_delimiter(text)
    offset, columns = _find_header(text, delimiter)
    table = _read_table(text[offset:], delimiter, columns)
    notes: list[str] = []
    if "close" not in columns:
        table["close"] = table["adj_close"]
        notes.append("the file has no close column, so Adj Close is used as the close")
    dates = _parse_dates(table.pop("date"), notes)
    values = {c: _parse_numbers(table[c], delimiter, c == "volume") for c in table.columns}
    df = pd.DataFrame(values, index=dates)
    df = _clean(df, notes)
    if len(df) < MIN_ROWS:
        raise DataError(f"need at least {MIN_ROWS} rows of prices, got {len(df)}")
    df.attrs = {"source": "csv", "ticker": "", "notes": notes}
    return df


def _read_bytes(source: Any) -> bytes:
    too_big = f"the CSV is larger than {MAX_CSV_BYTES // 2**20} MB: trim it to the dates you need"
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        data = read_csv_file(source)
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)  # Streamlit reruns hand back an upload that was already read
        data = source.read(MAX_CSV_BYTES + 1)
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    else:
        raise DataError(
            f"csv must be a file path, bytes or an uploaded file, got {type(source).__name__}"
        )
    if len(data) > MAX_CSV_BYTES:
        raise DataError(too_big)
    return data


def read_csv_file(path: str | os.PathLike) -> bytes:
    """A CSV file's bytes; anything but a regular file, or a file over the limit, is refused
    before a byte is read, and no more than the limit is ever read (a file growing meanwhile,
    /dev/zero, a FIFO: none can make this take more memory than the limit)."""
    shown = str(path)[:200]
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat the open file, not the
        # path, so what is checked is what is read.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise DataError(f"CSV file {shown!r} not found: check the path") from None
    except OSError as exc:
        raise DataError(f"CSV file {shown!r} cannot be read ({exc.strerror}): check it") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # a folder, a device, a FIFO: before fdopen, which
        os.close(fd)  # refuses a folder with its own error
        raise DataError(f"{shown!r} is not a regular file: give the path of a CSV file")
    with os.fdopen(fd, "rb") as f:
        if info.st_size > MAX_CSV_BYTES:
            raise DataError(_too_big(info.st_size))
        data = f.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise DataError(_too_big(len(data)))
    return data


def _too_big(size: int) -> str:
    return (
        f"the CSV is {size / 2**20:,.0f} MB, larger than the {MAX_CSV_BYTES // 2**20} MB "
        "limit: trim it to the dates you need"
    )


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise DataError("the file is not valid UTF-16 text: save it as 'CSV UTF-8'") from None
    elif b"\x00" in data:
        raise DataError("this looks like a binary file, not CSV text: export the sheet as CSV")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DataError(
                "the file is not UTF-8 text: save it as 'CSV UTF-8' and upload again"
            ) from None
    if "\x00" in text:
        raise DataError("this looks like a binary file, not CSV text: export the sheet as CSV")
    if not text.strip():
        raise DataError("the CSV is empty: it needs a header row and at least 100 rows of prices")
    return text


def _sniff_delimiter(text: str) -> str:
    # The header line decides: it has no decimals or thousands separators to confuse counts.
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _match_header(fields: list[str]) -> dict[str, int]:
    keys = [_key(f) for f in fields]
    found: dict[str, int] = {}
    for column, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in keys:
                found[column] = keys.index(alias)
                break
    return found


def _find_header(text: str, delimiter: str) -> tuple[int, dict[str, int]]:
    """Character offset of the header line and canonical column -> field position."""
    offset, first = 0, None
    lines = io.StringIO(text, newline="")
    for _ in range(_HEADER_SCAN_LINES):
        line = lines.readline()
        if not line:
            break
        try:
            fields = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])
        except csv.Error:
            fields = []
        columns = _match_header(fields)
        if "date" in columns and ("close" in columns or "adj_close" in columns):
            return offset, columns
        first = first if first is not None or not line.strip() else fields
        offset += len(line)
    seen = ", ".join(repr(f.strip()[:30]) for f in (first or [])[:12]) or "nothing"
    raise DataError(
        "the CSV needs a header row with a date column and a close column "
        f"(for example Date,Close or Date,Open,High,Low,Close,Adj Close,Volume); found {seen}"
    )


def _read_table(body: str, delimiter: str, columns: dict[str, int]) -> pd.DataFrame:
    positions = sorted(set(columns.values()))
    try:
        raw = pd.read_csv(
            io.StringIO(body),
            sep=delimiter,
            header=0,
            usecols=positions,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            on_bad_lines="skip",
            engine="c",
        )
    except (ValueError, csv.Error, pd.errors.ParserError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else exc.__class__.__name__
        raise DataError(
            f"the CSV could not be read as a table ({reason}): check its quoting"
        ) from None
    by_position = dict(zip(positions, raw.columns, strict=True))
    return pd.DataFrame({name: raw[by_position[pos]] for name, pos in columns.items()})


def _parse_dates(column: pd.Series, notes: list[str]) -> pd.DatetimeIndex:
    """ISO (2020-01-31, 20200131, with or without a time) and M/D/YYYY; D/M/YYYY if it must be."""
    text = column.fillna("").astype(str).str.strip()
    iso = text.str.extract(_ISO).astype(float)
    compact = text.str.extract(_COMPACT).astype(float)
    us = text.str.extract(_US).astype(float)
    ymd = iso.fillna(compact)
    if (us[0] > 12).any() and not (us[1] > 12).any():
        us = us[[1, 0, 2]].set_axis([0, 1, 2], axis=1)  # the first field is a day
        notes.append("dates were read as day/month/year because some first fields exceed 12")
    ymd = ymd.fillna(us[[2, 0, 1]].set_axis([0, 1, 2], axis=1))
    ymd = ymd.where(ymd[0].between(_FIRST_YEAR, _LAST_YEAR))
    parts = pd.DataFrame({"year": ymd[0], "month": ymd[1], "day": ymd[2]})
    dates = pd.to_datetime(parts, errors="coerce")
    # An intraday file: keep the time of day so each day's last row can be the one kept.
    clock = text.str.extract(_TIME)[0]
    dates = dates + pd.to_timedelta(clock.where(clock.notna(), "00:00:00"), errors="coerce")
    if len(text) and dates.isna().all():
        sample = text.iloc[0][:30] if len(text) else ""
        raise DataError(
            f"could not read any dates (first one: {sample!r}): use YYYY-MM-DD or M/D/YYYY"
        )
    return pd.DatetimeIndex(dates, name="date").as_unit("ns")


def _decimal_comma(text: pd.Series, delimiter: str) -> bool:
    """Is ',' the decimal mark? "1.234,50" says yes, "1,234.50" says no, else ';' files say yes."""
    if text.str.contains(r"\.\d*,", regex=True).any():
        return True
    if text.str.contains(r",\d*\.", regex=True).any():
        return False
    return delimiter == ";" and text.str.contains(",", regex=False).any()


def _parse_numbers(column: pd.Series, delimiter: str, is_volume: bool) -> np.ndarray:
    """'$1,234.50' -> 1234.5; with ';' or tab delimiters '1.234,50' -> 1234.5; '1.2M' volumes."""
    text = column.fillna("").astype(str).str.strip()
    text = text.str.replace(r"[\s$€£\"'\u00a0]", "", regex=True)
    if _decimal_comma(text, delimiter):
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    scale = pd.Series(1.0, index=text.index)
    if is_volume:
        suffix = text.str[-1:].str.upper()
        for letter, factor in (("K", 1e3), ("M", 1e6), ("B", 1e9)):
            scale[suffix == letter] = factor
        text = text.str.rstrip("kKmMbB")
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64") * scale.to_numpy()
    values[~np.isfinite(values)] = np.nan
    return values


def _clean(df: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    df = _drop(df, df.index.isna(), "with unreadable dates", notes)
    today = pd.Timestamp.today().normalize()
    df = _drop(df, df.index.normalize() > today, f"dated after today ({today.date()})", notes)
    df = _drop(df, ~(df["close"] > 0), "with a missing or non-positive close", notes)
    for column in [c for c in df.columns if c != "close"]:
        valid = df[column] >= 0 if column == "volume" else df[column] > 0
        if len(df) and (~valid).mean() > 0.5:
            df = df.drop(columns=column)
            notes.append(f"ignored the {column} column: most of its values are missing or invalid")
        else:
            df = _drop(df, ~valid.to_numpy(), f"with a missing or invalid {column}", notes)
    if not df.index.is_monotonic_increasing:
        order = "newest first" if df.index.is_monotonic_decreasing else "out of order"
        df = df.sort_index(kind="stable")
        notes.append(f"sorted the rows into date order (the file was {order})")
    # One row per day: the day's last (its close), after sorting by the time of day.
    days = df.index.normalize()
    df = _drop(df, days.duplicated(keep="last"), "repeating an earlier date (kept the last)", notes)
    df.index = df.index.normalize()
    ordered = [
        c for c in ("open", "high", "low", "close", "adj_close", "volume") if c in df.columns
    ]
    return df[ordered]


def _drop(df: pd.DataFrame, mask: Any, reason: str, notes: list[str]) -> pd.DataFrame:
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        n = int(mask.sum())
        notes.append(f"dropped {n} row{'s' if n != 1 else ''} {reason}")
        df = df.loc[~mask]
    return df
