"""Attack cases from the independent review (issue 14), each with the figure it costs now.

A 2 GB CSV (a sparse file: no disk used), /dev/zero and a FIFO on the CLI's --csv are refused
before anything is read; the peak memory of the refusing process is recorded
(`attack.csv_2gb.peak_mb`), against the 2.2 GB the old code took.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEAK = (
    "import resource, runpy, sys\n"
    "sys.argv = ['core', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('core', run_name='__main__')\n"
    "finally:\n"
    "    print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
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
