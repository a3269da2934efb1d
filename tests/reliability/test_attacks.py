"""Attack cases from the independent review (issue 14), each with the figure it costs now.

A 2 GB CSV (a sparse file: no disk used), /dev/zero and a FIFO on the CLI's --csv are refused
before anything is read; the peak memory of the refusing process is recorded
(`attack.csv_2gb.peak_mb`), against the 2.2 GB the old code took.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a child
# of a pytest process that has loaded TensorFlow reported the parent's 1.7 GB as its own.
PEAK = (
    "import runpy, sys\n"
    "sys.argv = ['core', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('core', run_name='__main__')\n"
    "finally:\n"
    "    hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')][0]\n"
    "    print('PEAK_KB', hwm.split()[1], file=sys.stderr)\n"
)


def _cli(args: list[str], store_root: Path) -> tuple[int, list[str], float]:
    """Exit code, stderr lines (without the peak line) and peak RSS in MB of `python -m core`."""
    env = {**os.environ, "MODELS_CACHE": str(store_root), "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(
        [sys.executable, "-c", PEAK, *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )  # fmt: skip
    lines = out.stderr.strip().splitlines()
    peak = [int(x.split()[1]) for x in lines if x.startswith("PEAK_KB")]
    rest = [x for x in lines if not x.startswith("PEAK_KB")]
    return out.returncode, rest, (peak[0] / 1024 if peak else float("nan"))


def test_a_2gb_csv_is_refused_before_it_is_read(tmp_path, store_root, figures):
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:  # sparse: 2 GiB long, no blocks on disk
        f.write(b"date,close\n")
        f.truncate(2 * 1024**3)
    code, err, peak_mb = _cli(["data", "--csv", str(big)], store_root)
    assert code == 2 and len(err) == 1, err
    assert "larger than the 50 MB limit" in err[0]
    figures["attack.csv_2gb.peak_mb"] = round(peak_mb, 1)
    assert peak_mb < 1024, f"refusing a 2 GB CSV took {peak_mb:.0f} MB"  # it read the file


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/urandom"])
def test_a_device_as_csv_is_refused_without_reading(path, store_root, figures):
    if not Path(path).exists():
        pytest.skip(f"no {path} here")
    code, err, peak_mb = _cli(["data", "--csv", path], store_root)
    assert code == 2 and len(err) == 1, err
    assert "is not a regular file" in err[0]
    figures[f"attack.csv_{Path(path).name}.peak_mb"] = round(peak_mb, 1)


def test_a_fifo_as_csv_is_refused_without_waiting_for_a_writer(tmp_path):
    from core.data_csv import read_csv_file
    from core.errors import DataError

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def read() -> None:
        try:
            read_csv_file(fifo)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # unblock it so the test run ends, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("reading a FIFO waited for a writer")
    assert isinstance(result[0], DataError) and "not a regular file" in str(result[0])


def test_a_csv_over_the_limit_is_never_read_past_the_limit(tmp_path, monkeypatch):
    """A file that grows after the size check (stat says small) still costs at most the limit."""
    from core import data_csv
    from core.errors import DataError

    monkeypatch.setattr(data_csv, "MAX_CSV_BYTES", 1000)
    path = tmp_path / "grows.csv"
    path.write_bytes(b"date,close\n" + b"2020-01-01,1\n" * 500)
    real_fstat = os.fstat
    monkeypatch.setattr(os, "fstat", lambda fd: _small(real_fstat(fd)))
    with pytest.raises(DataError, match="larger than"):
        data_csv.read_csv_file(path)


def _small(st: os.stat_result) -> os.stat_result:
    fields = list(st)
    fields[6] = 10  # st_size
    return os.stat_result(fields)


def _daily_csv(n: int) -> bytes:
    import pandas as pd

    days = pd.bdate_range("2001-01-02", periods=n)
    rows = [f"{d:%Y-%m-%d},{100 + (i % 37) * 0.5:.2f}" for i, d in enumerate(days)]
    return ("Date,Close\n" + "\n".join(rows) + "\n").encode()


def test_an_upload_parsed_in_its_child_equals_the_direct_parse(monkeypatch):
    import pandas as pd

    from core import data
    from core.csv_bounded import parse_bounded

    raw = _daily_csv(400) + b"2001-01-02,5\n"  # a repeated date: a note must come back too
    direct = data.load_prices(source="csv", csv=raw)
    bounded = parse_bounded(raw)
    pd.testing.assert_frame_equal(bounded, direct, check_freq=False)
    assert bounded.attrs == direct.attrs and bounded.attrs["notes"]


def test_an_upload_too_large_to_parse_is_a_message_and_the_server_does_not_grow(
    monkeypatch, figures
):
    from core.csv_bounded import parse_bounded
    from core.errors import DataError

    raw = _daily_csv(200_000)  # ~3.5 MB, parsed under a budget far too small for it
    monkeypatch.setenv("GRADLAB_UPLOAD_MEMORY_MB", "200")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError, match="could not be parsed within 200 MB"):
        parse_bounded(raw)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    figures["attack.upload_refused.server_growth_mb"] = round(grown, 1)
    assert grown < 50, f"the server grew {grown:.0f} MB parsing in a child"


def test_a_user_error_in_the_child_is_the_same_message(monkeypatch):
    from core.csv_bounded import parse_bounded
    from core.errors import DataError

    with pytest.raises(DataError, match="need at least"):
        parse_bounded(b"Date,Close\n2020-01-02,1\n")
