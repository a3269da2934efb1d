"""A read-only run store or a full disk at submission is one clear sentence (issue 14, item 5).

The store is made read-only or full for real: a read-only bind mount or a tiny tmpfs when
the tests run as root (root ignores file modes), file modes otherwise.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core import jobs
from core.cli import main, train_one
from core.config import RunSpec
from core.errors import UserError
from core.runs import RunStore
from tests.fakes import fake_prices, make_run


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def read_only_store(store_root):
    """A store holding one finished run, then made read-only; returns (root, run spec)."""
    make_run(store_root, cell="gru", seed=3)
    spec = RunSpec().replace(cell="gru", seed=3, epochs=5, lookback=10).validate()
    root = Path(store_root)
    if os.geteuid() == 0:
        if not _mount("--bind", str(root), str(root)):
            pytest.skip("cannot bind-mount here")
        _mount("-o", "remount,bind,ro", str(root))
        yield root, spec
        subprocess.run(["umount", str(root)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in [root, *root.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        yield root, spec
        for p, mode in modes.items():
            p.chmod(mode)


def test_read_only_store_cache_hit_and_new_run_are_one_clear_message(read_only_store, capsys):
    root, spec = read_only_store
    store = RunStore(root)
    for attempt in (spec, spec.replace(seed=4).validate()):  # a pure cache hit, a new run
        with pytest.raises(UserError, match="read-only or not writable"):
            jobs.submit(attempt, fake_prices(), store)
        with pytest.raises(UserError, match="read-only or not writable"):
            train_one(store, attempt, fake_prices(), print)
    assert main(["train", "--epochs", "1", "--units", "4", "--lookback", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "read-only or not writable" in err[0], err
    assert main(["runs", "list"]) == 0  # reading still works


@pytest.fixture
def full_store(tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a tiny tmpfs: run as root")
    root = tmp_path / "full"
    root.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=512k", "tmpfs", str(root)):
        pytest.skip("cannot mount tmpfs here")
    monkeypatch.setenv("MODELS_CACHE", str(root))
    yield root
    subprocess.run(["umount", str(root)], check=True)


def test_full_disk_at_submission_is_one_clear_message(full_store, capsys):
    store = RunStore(full_store)
    store.lock("0" * 16)  # the lock folder exists, as on a store in use
    with open(full_store / "filler", "wb") as f:  # fill the disk
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    spec = RunSpec().replace(epochs=1, units=4, lookback=5).validate()
    with pytest.raises(UserError, match="disk holding the run store .* is full"):
        jobs.submit(spec, fake_prices(), store)
    assert main(["train", "--epochs", "1", "--units", "4", "--lookback", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is full" in err[0], err
