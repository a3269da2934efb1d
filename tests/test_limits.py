"""Bounded cost per run (issue 14.7): refused up front by estimate, stopped by the worker's limits."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import budget, data, jobs
from core.config import RunSpec
from core.errors import UserError
from core.runs import RunStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def prices():
    return data.load_prices("sample", "^GSPC")


def test_the_oversize_model_is_refused_in_one_line_before_anything_is_written(
    store_root, prices, monkeypatch
):
    monkeypatch.delenv("GRADLAB_RUN_MEMORY_MB", raising=False)
    spec = RunSpec().replace(layers=4, units=512, lookback=1000, epochs=1000)
    start = time.perf_counter()
    with pytest.raises(UserError) as caught:
        jobs.submit(spec, prices, RunStore())
    took = time.perf_counter() - start
    message = str(caught.value)
    print(f"\nrefused 4x512x1000 in {took * 1000:.0f} ms: {message}")
    assert "\n" not in message and "GRADLAB_RUN_MEMORY_MB" in message
    estimate = budget.estimate(spec, 5000).memory_mb
    assert f"{budget.DEFAULT_MEMORY_MB:,} MB" in message and estimate > 20_000
    assert list(store_root.iterdir()) == []  # nothing written, no worker started


def test_the_default_run_fits_and_a_long_one_is_refused_by_time(store_root, prices, monkeypatch):
    default = budget.check(RunSpec(), 5000)
    assert default.memory_mb < budget.DEFAULT_MEMORY_MB / 2
    monkeypatch.setenv("GRADLAB_RUN_TIMEOUT_S", "3600")
    slow = RunSpec().replace(units=512, lookback=1000, epochs=1000)
    monkeypatch.setenv("GRADLAB_RUN_MEMORY_MB", "100000")  # memory allowed: time refuses it
    with pytest.raises(UserError, match=r"days .*above the limit of 60 min .*RUN_TIMEOUT_S"):
        jobs.check(slow, prices)


def test_a_larger_model_needs_more_memory_and_time():
    small, big = RunSpec(), RunSpec().replace(units=128, layers=2, lookback=60)
    a, b = budget.estimate(small, 3000), budget.estimate(big, 3000)
    assert b.memory_mb > a.memory_mb and b.seconds > a.seconds
    gru = budget.estimate(small.replace(cell="gru"), 3000)
    assert gru.seconds < a.seconds  # three gates, not four


@pytest.mark.parametrize("value", ["0", "4GB", "-5"])
def test_malformed_limits_are_clear_errors(monkeypatch, value):
    monkeypatch.setenv("GRADLAB_RUN_MEMORY_MB", value)
    with pytest.raises(UserError, match="GRADLAB_RUN_MEMORY_MB must be a whole number"):
        budget.memory_limit_mb()


# Every GRADLAB_* count is read by budget.env_count: each refusal names the variable, what it
# takes and the default, whichever module reads it.
ENV_READERS = [
    ("GRADLAB_RUN_MEMORY_MB", "core.budget", "memory_limit_mb", "of at least 1", "4096"),
    ("GRADLAB_WORKERS", "core.jobs", "max_workers", "between 1 and 64", "1"),
    ("GRADLAB_MAX_QUEUE", "core.jobs", "max_queue", "between 1 and 1000", "16"),
    ("GRADLAB_UPLOAD_TIMEOUT_S", "core.csv_bounded", "budget", "of at least 1", "120"),
    ("GRADLAB_WORKER_IDLE_S", "core.worker_pool", "idle_s", "of at least 1", "900"),
]


@pytest.mark.parametrize(("name", "module", "reader", "allowed", "default"), ENV_READERS)
@pytest.mark.parametrize("value", ["0", "4GB", "-5", "²", "1e3"])
def test_every_env_count_refuses_alike(monkeypatch, name, module, reader, allowed, default, value):
    import importlib

    monkeypatch.setenv(name, value)
    with pytest.raises(UserError) as exc:
        getattr(importlib.import_module(module), reader)()
    assert str(exc.value) == (
        f"{name} must be a whole number {allowed}, got {value!r}: "
        f"fix it or unset it (default {default})"
    )


def test_env_count_reads_a_count_and_its_default(monkeypatch):
    monkeypatch.setenv("GRADLAB_X", " 7 ")
    assert budget.env_count("GRADLAB_X", 3) == 7
    assert budget.env_count("GRADLAB_X", 3, hi=7) == 7
    monkeypatch.delenv("GRADLAB_X")
    assert budget.env_count("GRADLAB_X", 3) == 3 and budget.env_count("GRADLAB_X", None) is None
    monkeypatch.setenv("GRADLAB_X", "8")
    with pytest.raises(UserError, match="between 1 and 7, got '8': fix it or unset it$"):
        budget.env_count("GRADLAB_X", None, hi=7)


def _worker(store: RunStore, rid: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core.worker", str(store.run_dir(rid))],
        cwd=ROOT,
        env={**os.environ, "MODELS_CACHE": str(store.root), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _queued(store: RunStore, prices, epochs: int = 2) -> str:
    spec = RunSpec().replace(epochs=epochs, units=4, lookback=5, patience=0)
    return store.create(spec, store.save_prices(prices.loc["2015":"2016"]))


@pytest.mark.slow
def test_a_worker_over_its_memory_limit_dies_and_the_run_says_why(store_root, prices):
    store = RunStore()
    rid = _queued(store, prices)
    out = _worker(store, rid, GRADLAB_RUN_MEMORY_MB="200")  # below TensorFlow's own size
    assert out.returncode == -9  # killed itself: all its memory back, nobody else touched
    st = store.status(rid)
    assert st["state"] == "failed" and st["stopped"] == "memory", st
    assert "above the limit of 200 MB (GRADLAB_RUN_MEMORY_MB)" in st["error"]


@pytest.mark.slow
def test_a_run_past_its_time_limit_is_stopped_and_says_why(store_root, prices):
    store = RunStore()
    rid = _queued(store, prices, epochs=1000)
    out = _worker(store, rid, GRADLAB_RUN_TIMEOUT_S="2")
    assert out.returncode == -9
    st = store.status(rid)
    assert st["state"] == "failed" and st["stopped"] == "timeout", st
    assert "above the limit of 2 s (GRADLAB_RUN_TIMEOUT_S)" in st["error"]
