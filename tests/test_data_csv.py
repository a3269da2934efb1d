"""CSV source: real-world dialects, plain notes for every dropped row, DataError for all else."""

import io
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import data_csv
from core.data import load_prices
from core.errors import DataError

N = 120
DATES = pd.bdate_range("2015-01-02", periods=N)
CLOSES = [100.0 + i * 0.5 for i in range(N)]


def make_csv(header="Date,Close", rows=None, sep=",", fmt="%Y-%m-%d", price=str, newline="\n"):
    rows = (
        rows
        if rows is not None
        else [sep.join([d.strftime(fmt), price(c)]) for d, c in zip(DATES, CLOSES, strict=True)]
    )
    return (newline.join([header, *rows]) + newline).encode()


def load(raw, **kwargs):
    return load_prices("csv", "MYCSV", csv=raw, **kwargs)


def test_minimal_iso_csv():
    df = load(make_csv())
    assert df.attrs == {"source": "csv", "ticker": "MYCSV", "notes": []}
    assert list(df.columns) == ["close"] and df["close"].dtype == np.float64
    assert df.index.name == "date" and df.index[0] == DATES[0] and len(df) == N
    assert df["close"].tolist() == CLOSES


def test_yahoo_export_with_all_columns_keeps_them_in_order():
    header = "Date,Open,High,Low,Close,Adj Close,Volume,Note"
    rows = [f"{d:%Y-%m-%d},1,2,0.5,{c},{c / 2},1000,x" for d, c in zip(DATES, CLOSES, strict=True)]
    df = load(make_csv(header, rows))
    assert list(df.columns) == ["open", "high", "low", "close", "adj_close", "volume"]
    assert df["adj_close"].iloc[0] == 50.0


@pytest.mark.parametrize(
    "header",
    [
        "date,close",
        "DATE,CLOSE",
        "Timestamp,Price",
        "Date,Close/Last",
        "date,Adj Close",
        "Date,AdjClose",
        "Date,adj_close",
        " Date , Close* ",
    ],
)
def test_header_spellings(header):
    df = load(make_csv(header))
    assert df["close"].tolist() == CLOSES


def test_nasdaq_export_newest_first_with_dollars_is_sorted_with_a_note():
    rows = [f"{d:%m/%d/%Y},${c:,.2f},1,000,000" for d, c in zip(DATES, CLOSES, strict=True)]
    raw = make_csv("Date,Close/Last,Volume", rows[::-1]).replace(b",1,000,000", b',"1,000,000"')
    df = load(raw)
    assert df.index.is_monotonic_increasing and df["close"].tolist() == CLOSES
    assert df["volume"].iloc[0] == 1_000_000
    assert df.attrs["notes"] == ["sorted the rows into date order (the file was newest first)"]


def test_thousands_separators_and_currency():
    rows = [f'{d:%Y-%m-%d},"${c * 100:,.2f}"' for d, c in zip(DATES, CLOSES, strict=True)]
    df = load(make_csv(rows=rows))
    assert df["close"].iloc[-1] == pytest.approx(CLOSES[-1] * 100)


def test_semicolon_with_decimal_comma_and_bom():
    rows = [
        f"{d:%Y-%m-%d};{c * 10:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
        for d, c in zip(DATES, CLOSES, strict=True)
    ]
    raw = b"\xef\xbb\xbf" + make_csv("Date;Close", rows)
    df = load(raw)
    assert df["close"].iloc[-1] == pytest.approx(CLOSES[-1] * 10)


def test_tab_delimited_utf16_from_excel():
    raw = make_csv("Date\tClose", sep="\t").decode().encode("utf-16")
    assert load(raw)["close"].tolist() == CLOSES


def test_crlf_preamble_and_blank_lines():
    raw = b"Prices for MY FUND\r\n\r\n" + make_csv(newline="\r\n") + b"\r\n\r\n"
    assert len(load(raw)) == N


def test_us_and_day_first_dates():
    assert load(make_csv(fmt="%m/%d/%Y")).index.equals(DATES.as_unit("ns").rename("date"))
    df = load(make_csv(fmt="%d/%m/%Y"))
    assert df.index[0] == DATES[0]
    assert "dates were read as day/month/year" in df.attrs["notes"][0]


def test_investing_com_volume_suffixes():
    rows = [f'"{d:%m/%d/%Y}","{c}","1.5M","0.1%"' for d, c in zip(DATES, CLOSES, strict=True)]
    df = load(make_csv('"Date","Price","Vol.","Change %"', rows))
    assert df["volume"].iloc[0] == 1_500_000


def test_bad_rows_are_dropped_with_a_plain_account():
    rows = [f"{d:%Y-%m-%d},{c}" for d, c in zip(DATES, CLOSES, strict=True)]
    future = date.today() + timedelta(days=30)
    rows += [
        rows[5],
        rows[6],
        rows[7],
        "not a date,5",
        f"{future},5",
        "2015-01-02x,",
        "2016-01-04,",
        "2016-01-05,-3",
        "2016-01-06,0",
        "2016-01-07,n/a",
    ]
    df = load(make_csv(rows=rows))
    assert len(df) == N
    notes = df.attrs["notes"]
    assert "dropped 2 rows with unreadable dates" in notes
    assert f"dropped 1 row dated after today ({date.today()})" in notes
    assert "dropped 4 rows with a missing or non-positive close" in notes
    assert "dropped 3 rows repeating an earlier date (kept the last)" in notes


def test_mostly_empty_optional_column_is_ignored_with_a_note():
    rows = [f"{d:%Y-%m-%d},{c}," for d, c in zip(DATES, CLOSES, strict=True)]
    df = load(make_csv("Date,Close,Volume", rows))
    assert "volume" not in df.columns
    assert df.attrs["notes"] == [
        "ignored the volume column: most of its values are missing or invalid"
    ]


def test_path_and_file_object_inputs(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_bytes(make_csv())
    assert len(load(str(path))) == N and len(load(path)) == N
    stream = io.BytesIO(make_csv())
    stream.read()  # an upload that a previous Streamlit run already consumed
    assert len(load(stream)) == N


def test_start_end_filter_applies_to_csv():
    df = load(make_csv(), start="2015-01-05", end="2015-01-09")
    assert len(df) == 5 and df.attrs["source"] == "csv"


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            make_csv(rows=[f"2015-01-{d:02d},1" for d in range(1, 13)]),
            "need at least 100 rows of prices, got 12",
        ),
        (b"", "the CSV is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks like a binary file"),
        ("Date,Close\n2015-01-02,caf\u00e9".encode("latin-1"), "not UTF-8 text"),
        (make_csv("Day,Open"), "needs a header row with a date column and a close column"),
        (make_csv("When,Close"), r"found 'When', 'Close'"),
        (make_csv(fmt="%b %d %Y"), "could not read any dates .*use YYYY-MM-DD or M/D/YYYY"),
        (b'Date,Close\n"2015-01-02,1\n', "could not be read as a table .*check its quoting"),
        (b"Date,Close\n", "need at least 100 rows of prices, got 0"),
    ],
)
def test_unusable_csv_is_rejected_with_the_reason(raw, message):
    with pytest.raises(DataError, match=message):
        load(raw)


def test_size_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(data_csv, "MAX_CSV_BYTES", 1000)
    with pytest.raises(DataError, match="larger than"):
        load(make_csv())
    path = tmp_path / "big.csv"
    path.write_bytes(make_csv())
    with pytest.raises(DataError, match="larger than"):
        load(path)
    with pytest.raises(DataError, match="larger than"):
        load(io.BytesIO(make_csv()))


def test_missing_path_and_wrong_type():
    with pytest.raises(DataError, match="not found: check the path"):
        load("/nonexistent/prices.csv")
    with pytest.raises(DataError, match="csv must be a file path, bytes or an uploaded file"):
        load(12345)
    with pytest.raises(DataError, match="source 'csv' needs a file"):
        load_prices("csv", "X")


# --- properties --------------------------------------------------------------------------

HEADERS = [
    "Date",
    "date",
    "Close",
    "close",
    "Adj Close",
    "Price",
    "Open",
    "Volume",
    "x",
    "",
    "Close/Last",
    "timestamp",
    '"',
    "Date;Close",
    "Date\tClose",
]
CELLS = st.one_of(
    st.sampled_from(
        [
            "2015-01-02",
            "1/2/2015",
            "31/12/2015",
            "0000-00-00",
            "9999-12-31",
            "20150102",
            "$1,234.50",
            "1.234,5",
            "-1",
            "0",
            "nan",
            "inf",
            "1e308",
            "1.5M",
            "",
            '"',
            "''",
            "1,2,3",
        ]
    ),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**20), 10**20).map(str),
)


@st.composite
def messy_csv(draw):
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = sep.join(draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6)))
    rows = draw(st.lists(st.lists(CELLS, max_size=7).map(sep.join), max_size=150))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join([header, *rows])
    raw = text.encode("utf-8", errors="surrogatepass")
    return draw(st.sampled_from([raw, b"\xef\xbb\xbf" + raw, raw[: len(raw) // 2]]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(messy_csv(), st.binary(max_size=400)))
def test_messy_bytes_never_raise_anything_but_data_error(raw):
    try:
        df = load(raw)
    except DataError:
        return
    assert len(df) >= 100 and df.index.is_monotonic_increasing and df.index.is_unique
    assert (df["close"] > 0).all()


@settings(max_examples=60, deadline=None)
@given(
    sep=st.sampled_from([",", ";", "\t"]),
    fmt=st.sampled_from(["%Y-%m-%d", "%m/%d/%Y", "%Y%m%d"]),
    header=st.sampled_from(["Date,Close", "DATE,Close/Last", "timestamp,price", "Date,Adj Close"]),
    dollars=st.booleans(),
    cents=st.lists(st.integers(1, 10**9), min_size=N, max_size=N),
)
def test_well_formed_csv_round_trips_exactly(sep, fmt, header, dollars, cents):
    prices = [c / 100 for c in cents]
    text = [f"{p:.2f}" for p in prices]
    if dollars and sep != ";":
        text = [f"${p:.2f}" for p in prices]
    rows = [f"{d.strftime(fmt)}{sep}{t}" for d, t in zip(DATES, text, strict=True)]
    df = load(make_csv(header.replace(",", sep), rows))
    assert df["close"].tolist() == prices
    assert list(df.index) == list(DATES)


def test_intraday_rows_keep_each_days_last_row():
    rows = []
    for d, c in zip(DATES, CLOSES, strict=True):
        rows += [f"{d:%Y-%m-%d} 09:30:00,{c - 5}", f"{d:%Y-%m-%d} 16:00:00,{c}"]
    df = load(make_csv(rows=rows))
    assert len(df) == N and list(df["close"]) == pytest.approx(list(CLOSES))
    assert (df.index == df.index.normalize()).all()
    newest_first = load(make_csv(rows=rows[::-1]))
    assert list(newest_first["close"]) == pytest.approx(list(CLOSES))
