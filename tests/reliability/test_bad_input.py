"""Bad input catalogue: CLI flags, CSV uploads, Yahoo answers, query parameters and widgets.

Each case is one parametrised test. A bad value must end as a UserError with a message (CLI:
exit 2, exactly one stderr line, the run store untouched); the UI shows st.error and never
an exception. Cases the code documents as tolerated (a BOM, duplicated or future rows) must
be accepted with a note saying what was dropped. Passing cases are counted per category.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import cli, data
from core.errors import DataError
from tests.fakes import make_run

ROOT = Path(__file__).resolve().parents[2]


def _count(figures: dict, category: str) -> None:
    figures["bad_input.cases"] = figures.get("bad_input.cases", 0) + 1
    key = f"bad_input.cases.{category}"
    figures[key] = figures.get(key, 0) + 1


# ---- CLI ----------------------------------------------------------------------------------

RANGE = ["--start", "2017-01-01", "--end", "2018-12-31"]
CLI_CASES = {  # name: (argv, what the one-line error must say)
    "epochs 0": (["train", "--epochs", "0"], "epochs must be between 1 and 1000"),
    "epochs negative": (["train", "--epochs", "-3"], "epochs must be between 1 and 1000"),
    "epochs text": (["train", "--epochs", "abc"], "argument --epochs: invalid int value"),
    "epochs fraction": (["train", "--epochs", "1.5"], "argument --epochs: invalid int value"),
    "epochs huge": (["train", "--epochs", "99999"], "epochs must be between 1 and 1000"),
    "units 0": (["train", "--units", "0"], "units must be between 1 and 512"),
    "units huge": (["train", "--units", "100000"], "units must be between 1 and 512"),
    "layers 9": (["train", "--layers", "9"], "layers must be between 1 and 4"),
    "lookback 1": (["train", "--lookback", "1"], "lookback must be between 2 and 1000"),
    "lr 0": (["train", "--lr", "0"], "learning_rate must be between 1e-06 and 1000.0"),
    "lr nan": (["train", "--lr", "nan"], "learning_rate must be between 1e-06 and 1000.0"),
    "lr inf": (["train", "--lr", "inf"], "learning_rate must be between 1e-06 and 1000.0"),
    "lr negative": (["train", "--lr", "-0.1"], "learning_rate must be between 1e-06 and 1000.0"),
    "dropout 1": (["train", "--dropout", "1.0"], "dropout must be between 0.0 and 0.9"),
    "dropout negative": (
        ["train", "--dropout", "-0.2"],
        "dropout must be between 0.0 and 0.9",
    ),
    "cell typo": (["train", "--cell", "lstn"], "cell must be one of 'lstm', 'gru', 'rnn'"),
    "optimizer unknown": (
        ["train", "--optimizer", "adamw"],
        "optimizer must be one of 'adam', 'rmsprop', 'sgd'",
    ),
    "clipnorm 0": (
        ["train", "--clipnorm", "0"],
        "clipnorm must be between 1e-06 and 100.0 (or off)",
    ),
    "batch size 0": (["train", "--batch-size", "0"], "batch_size must be between 1 and 8192"),
    "seed negative": (["train", "--seed", "-1"], "seed must be between 0 and 2147483647"),
    "patience negative": (["train", "--patience", "-1"], "patience must be between 0 and 1000"),
    "features without close": (["train", "--features", "ohlc"], "features must include 'close'"),
    "feature unknown": (
        ["train", "--features", "close,vix"],
        "feature must be one of 'close', 'ohlc', 'log_volume'",
    ),
    "target unknown": (["train", "--target", "level"], "target must be one of 'return', 'price'"),
    "ticker path": (
        ["train", "--ticker", "../../etc/passwd"],
        "ticker '../../etc/passwd' is not a ticker symbol",
    ),
    "ticker with space": (["train", "--ticker", "A B"], "ticker 'A B' is not a ticker symbol"),
    "ticker not bundled": (["train", "--ticker", "NOPE", *RANGE], "'NOPE' is not bundled"),
    "start impossible date": (
        ["train", "--start", "2018-13-45"],
        "start must be a date like 2010-01-31",
    ),
    "start after end": (
        ["train", "--start", "2019-01-01", "--end", "2018-01-01"],
        "start 2019-01-01 is after end 2018-01-01",
    ),
    "start word": (["train", "--start", "yesterday"], "start must be a date like 2010-01-31"),
    "source csv flag": (["train", "--source", "csv"], "argument --source: invalid choice"),
    "csv missing file": (
        ["train", "--csv", "/nonexistent/prices.csv"],
        "CSV file '/nonexistent/prices.csv' not found",
    ),
    "lookback longer than data": (
        ["train", "--lookback", "900", *RANGE],
        "lookback 900 needs at least 971 price rows",
    ),
    "unknown flag": (["train", "--frobnicate", "1"], "unrecognized arguments"),
    "data ticker not bundled": (["data", "--ticker", "NOPE"], "'NOPE' is not bundled"),
    "data range without prices": (
        ["data", "--start", "2030-01-01"],
        "no ^GSPC prices between 2030-01-01 and the end",
    ),
    "data csv is a directory": (
        ["data", "--csv", "/"],
        "'/' is not a regular file: give the path of a CSV file",
    ),
    "runs show path": (
        ["runs", "show", "../../etc/passwd"],
        "'../../etc/passwd' is not a run id (16 hex characters)",
    ),
    "runs show unknown id": (
        ["runs", "show", "0123456789abcdef"],
        "there is no run 0123456789abcdef",
    ),
    "runs show upper-case id": (
        ["runs", "show", "ABCDEF0123456789"],
        "'ABCDEF0123456789' is not a run id (16 hex characters)",
    ),
    "runs rm without id": (["runs", "rm"], "runs rm needs a run id"),
    "runs unknown action": (["runs", "frob"], "argument action: invalid choice"),
    "no command": ([], "the following arguments are required"),
    "unknown command": (["frob"], "argument command: invalid choice"),
    "compare one cell": (
        ["compare", "--cells", "lstm"],
        "--cells needs two or more different cells, e.g. lstm,gru; got 'lstm'",
    ),
    "compare zero seeds": (["compare", "--seeds", "0"], "--seeds must be between 1 and 50"),
}


@pytest.fixture
def populated(store_root):
    """A store with a finished and a running run: bad commands must leave both untouched."""
    done = make_run(store_root, cell="lstm", seed=0)
    running = make_run(store_root, cell="gru", seed=0, state="running")
    return store_root, done, running


@pytest.mark.parametrize("argv,says", list(CLI_CASES.values()), ids=list(CLI_CASES))
def test_cli_rejects(argv, says, populated, capsys, kit, figures):
    root, _, _ = populated
    before = kit.snapshot(root)
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert says in lines[0], err  # the message about this input, not some other refusal
    assert out == ""
    assert kit.snapshot(root) == before
    _count(figures, "cli")


def test_cli_refuses_to_delete_a_running_run(populated, capsys, kit, figures):
    root, _, running = populated

    def data(snap: dict) -> dict:  # the refusal takes the run's lock: lock files are not data
        return {k: v for k, v in snap.items() if not k.startswith("_locks")}

    before = kit.snapshot(root)
    assert cli.main(["runs", "rm", running]) == 2
    assert "cancel it first" in capsys.readouterr().err
    assert data(kit.snapshot(root)) == data(before)
    _count(figures, "cli")


@pytest.mark.parametrize(
    "argv",
    [["train", "--epochs", "0"], ["data", "--ticker", "../x"], ["runs", "show", "../../etc"]],
    ids=["train", "data", "runs"],
)
def test_real_entry_point_exits_2_with_one_line(argv, populated, kit, figures):
    root, _, _ = populated
    before = kit.snapshot(root)
    proc = subprocess.run(
        [sys.executable, "-m", "core", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""
    assert kit.snapshot(root) == before
    _count(figures, "cli")


# ---- CSV uploads --------------------------------------------------------------------------


def _csv(n: int = 150, *, start: str = "2012-01-02", close=None, sep: str = ",") -> str:
    dates = pd.bdate_range(start, periods=n).strftime("%Y-%m-%d")
    if close is None:
        close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n)))
    rows = [f"{d}{sep}{c}" for d, c in zip(dates, close, strict=True)]
    return "\n".join([f"Date{sep}Close", *rows]) + "\n"


GOOD = _csv()
FUTURE = _csv(5, start=str(pd.Timestamp.today().year + 2) + "-01-02").split("\n", 1)[1]
NEG = GOOD.replace("\n2012-01-03,", "\n2012-01-03,-").replace("\n2012-01-04,", "\n2012-01-04,-")
EXCEL = "Date,Close\n" + "".join(f"{40910 + i},{100 + i}\n" for i in range(150))
CSV_ERRORS = {
    "empty": (b"", "empty"),
    "whitespace only": (b"  \n\n\t\n", "empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    "huge": (b"Date,Close\n" + b"2012-01-02,1.0\n" * (50 * 2**20 // 15 + 1), "larger than 50 MB"),
    "header only": (b"Date,Close\n", "at least 100 rows"),
    "one row": (b"Date,Close\n2012-01-02,100\n", "at least 100 rows"),
    "99 rows": (_csv(99).encode(), "at least 100 rows"),
    "all NaN": (_csv(close=["NaN"] * 150).encode(), "at least 100 rows"),
    "all blank closes": (_csv(close=[""] * 150).encode(), "at least 100 rows"),
    "all future": (_csv(start="2100-01-04").encode(), "at least 100 rows"),
    "all negative": (_csv(close=[-5.0] * 150).encode(), "at least 100 rows"),
    "all zero": (_csv(close=[0] * 150).encode(), "at least 100 rows"),
    "space delimited": (_csv(sep=" ").encode(), "header row"),
    "latin-1": (GOOD.replace("Date", "Daté").encode("latin-1"), "UTF-8"),
    "no close column": (GOOD.replace("Close", "Open").encode(), "header row"),
    "no date column": (GOOD.replace("Date", "When").encode(), "header row"),
    "unreadable dates": (_csv().replace("2012-", "yr12-").encode(), "could not read any dates"),
    "html page": (b"<html><body><table><tr><td>Date</td></tr></table></body></html>", "header"),
    "json": (b'{"Date": ["2012-01-02"], "Close": [1.0]}', "header row"),
    "excel serial dates": (EXCEL.encode(), "could not read any dates"),
}
CSV_ACCEPTED = {
    "utf-8 BOM": ("\ufeff" + GOOD).encode(),
    "utf-16": GOOD.encode("utf-16"),
    "future rows": (GOOD + FUTURE).encode(),
    "duplicated dates": (GOOD + "\n".join(GOOD.splitlines()[1:11]) + "\n").encode(),
    "some negative prices": NEG.encode(),
    "newest first": ("Date,Close\n" + "\n".join(GOOD.splitlines()[:0:-1]) + "\n").encode(),
    "semicolon decimal comma": GOOD.replace(",", ";").replace(".", ",").encode(),
    "formula injection": GOOD.replace("\n2012-01-05,", '\n2012-01-05,=HYPERLINK("x")+').encode(),
}
NOTES = {  # what the note must say for the accepted cases that drop or reorder rows
    "future rows": "dated after today",
    "duplicated dates": "repeating an earlier date",
    "some negative prices": "non-positive close",
    "newest first": "sorted the rows",
    "formula injection": "non-positive close",
}


@pytest.mark.parametrize("raw,message", list(CSV_ERRORS.values()), ids=list(CSV_ERRORS))
def test_csv_refused_with_a_message(raw, message, figures):
    with pytest.raises(DataError, match=message):
        data.load_prices("csv", "CSV", csv=raw)
    _count(figures, "csv")


@pytest.mark.parametrize("name", list(CSV_ACCEPTED))
def test_csv_tolerated_with_notes(name, figures):
    df = data.load_prices("csv", "CSV", csv=CSV_ACCEPTED[name])
    assert len(df) >= 100 and (df["close"] > 0).all()
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert df.index.max() <= pd.Timestamp.today()
    notes = " ".join(df.attrs["notes"])
    if name in NOTES:
        assert NOTES[name] in notes, notes
    _count(figures, "csv")


def test_csv_path_that_does_not_exist(figures):
    with pytest.raises(DataError, match="not found: check the path"):
        data.load_prices("csv", "CSV", csv="/nonexistent/prices.csv")
    _count(figures, "csv")


def test_csv_upload_object_over_the_limit_is_not_read_whole(figures):
    class Upload:  # a Streamlit UploadedFile stand-in that counts what is read
        requested = 0

        def seek(self, _):
            pass

        def read(self, n=-1):
            Upload.requested = n
            return b"x" * n

    with pytest.raises(DataError, match="larger than 50 MB"):
        data.load_prices("csv", "CSV", csv=Upload())
    assert 0 < Upload.requested <= 50 * 2**20 + 1
    _count(figures, "csv")


# ---- Yahoo answers (yfinance.download mocked; no network) ---------------------------------


def _frame(n: int = 40, columns=("Open", "High", "Low", "Close", "Volume"), tz=None):
    index = pd.bdate_range("2020-01-02", periods=n, tz=tz, name="Date")
    values = 100 + np.arange(n, dtype=float)[:, None] + np.zeros((1, len(columns)))
    return pd.DataFrame(values, index=index, columns=list(columns))


def _rate_limited(*args, **kwargs):
    logging.getLogger("yfinance").error("YFRateLimitError('Too Many Requests. Rate limited.')")
    return pd.DataFrame()


def _raise(exc):
    def download(*args, **kwargs):
        raise exc

    return download


def _multiindex(*args, **kwargs):
    df = _frame()
    df.columns = pd.MultiIndex.from_product([df.columns, [args[0]]], names=["Price", "Ticker"])
    return df


YAHOO_ERRORS = {
    "empty answer": (lambda *a, **k: pd.DataFrame(), "ZZZZ", "no prices for ZZZZ"),
    "None answer": (lambda *a, **k: None, "ZZZZ", "no prices for ZZZZ"),
    "missing Close": (lambda *a, **k: _frame(columns=("Open", "Volume")), "ZZZZ", "no prices"),
    "all NaN closes": (lambda *a, **k: _frame() * np.nan, "ZZZZ", "no prices"),
    "rate limit": (_rate_limited, "ZZZZ", "refusing requests.*bundled sample.*CSV"),
    "timeout": (_raise(TimeoutError("read timed out")), "ZZZZ", "cannot be reached.*CSV"),
    "connection refused": (_raise(ConnectionError("refused")), "ZZZZ", "cannot be reached"),
    # a bundled ticker is never swapped in silently: the page offers it as a choice
    "timeout, bundled ticker": (_raise(TimeoutError("t")), "MSFT", "cannot be reached"),
}
YAHOO_ACCEPTED = {
    "MultiIndex columns": (_multiindex, "ZZZZ", "yahoo", None),
    "tz-aware index": (lambda *a, **k: _frame(tz="America/New_York"), "ZZZZ", "yahoo", None),
}


@pytest.fixture
def yahoo(monkeypatch, tmp_path):
    import yfinance

    monkeypatch.setattr(data, "_sleep", lambda s: None)  # retries without waiting
    cache = tmp_path / "yahoo"

    def load(download, ticker, **kwargs):
        monkeypatch.setattr(yfinance, "download", download)
        return data.load_prices("yahoo", ticker, cache_dir=cache, retries=2, **kwargs)

    return load


@pytest.mark.parametrize(
    "download,ticker,message", list(YAHOO_ERRORS.values()), ids=list(YAHOO_ERRORS)
)
def test_yahoo_failure_is_a_data_error(download, ticker, message, yahoo, figures):
    with pytest.raises(DataError, match=message):
        yahoo(download, ticker)
    _count(figures, "yahoo")


@pytest.mark.parametrize(
    "download,ticker,source,note", list(YAHOO_ACCEPTED.values()), ids=list(YAHOO_ACCEPTED)
)
def test_yahoo_odd_answer_still_gives_prices(download, ticker, source, note, yahoo, figures):
    df = yahoo(download, ticker)
    assert df.attrs["source"] == source and (df["close"] > 0).all()
    assert df.index.tz is None and df.index.is_monotonic_increasing
    if note:
        assert note in " ".join(df.attrs["notes"])
    _count(figures, "yahoo")


def test_yahoo_outage_falls_back_to_a_stale_cache(yahoo, figures):
    yahoo(lambda *a, **k: _frame(), "ZZZZ")  # fills the cache
    df = yahoo(_raise(TimeoutError("t")), "ZZZZ", max_age_s=0)
    assert df.attrs["source"] == "yahoo-stale" and "cached copy" in df.attrs["notes"][0]
    _count(figures, "yahoo")


# ---- query parameters and widgets ---------------------------------------------------------

QUERY_CASES = {
    "path traversal": "../../etc/passwd",
    "absolute path": "/etc/passwd",
    "unknown id": "0123456789abcdef",
    "upper-case hex": "ABCDEF0123456789",
    "not hex": "0123456789abcdeg",
    "empty": "",
    "very long": "a" * 10_000,
    "html": "<script>alert(1)</script>",
    "encoded traversal": "%2e%2e%2f%2e%2e%2fetc",
    "id plus traversal": "0123456789abcdef/../../x",
}


@pytest.mark.parametrize("value", list(QUERY_CASES.values()), ids=list(QUERY_CASES))
def test_results_query_param_is_an_error_not_an_exception(value, store_root, figures):
    rid = make_run(store_root, cell="gru", seed=3)
    at = AppTest.from_file(str(ROOT / "pages" / "results.py"), default_timeout=60)
    at.query_params["run"] = value
    at.run()
    assert not at.exception
    assert at.error and "run" in at.error[0].value
    assert all(value not in e.value or len(value) < 100 for e in at.error)  # not echoed whole
    assert at.selectbox(key="results_run").value == rid  # the page still works
    _count(figures, "query")


TICKER_CASES = {"path": "../../etc/passwd", "html": "<b>x</b>", "very long": "A" * 5000}


@pytest.mark.parametrize("value", list(TICKER_CASES.values()), ids=list(TICKER_CASES))
def test_train_page_yahoo_ticker_widget(value, store_root, monkeypatch, figures):
    import yfinance

    def no_network(*args, **kwargs):
        raise AssertionError("a bad ticker must be refused before any download")

    monkeypatch.setattr(yfinance, "download", no_network)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at = at.switch_page("pages/train.py").run()
    at.radio(key="train_source").set_value("Yahoo Finance").run()
    at.text_input(key="train_yahoo_ticker").input(value).run()
    assert not at.exception
    assert at.error and "ticker" in at.error[0].value
    _count(figures, "widget")


def test_z_catalogue_size(request, figures):
    """Runs last in this module: a full run of the catalogue holds at least 50 passing cases."""
    here = [
        i for i in request.session.items if i.path == request.path and i.name != request.node.name
    ]
    total = figures.get("bad_input.cases", 0)
    print(
        f"bad input: {total} of {len(here)} cases passed",
        {k: v for k, v in figures.items() if ".cases." in k},
    )
    if len(here) >= 50:  # the whole catalogue ran, not a -k selection
        assert total >= 50 and total == len(here), (total, len(here))
