"""Warm workers: one process serves queued runs in turn; crash, recycling and cancel semantics."""

import contextlib
import os
import signal

import pytest

from core import data, dataset, jobs, training, worker_pool
from core.config import RunSpec
from core.procs import process_alive
from core.runs import INTERRUPTED, RunStore
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prices():
    return data.load_prices("sample", "^GSPC", start="2015-01-01", end="2016-06-30")


@pytest.fixture
def store(store_root, monkeypatch):
    monkeypatch.setenv("GRADLAB_WORKERS", "1")
    monkeypatch.setenv("GRADLAB_WORKER_IDLE_S", "60")  # a leftover worker leaves on its own
    store = RunStore(store_root)
    yield store
    for w in worker_pool.live_workers(store):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(w["pid"], signal.SIGKILL)


def _spec(epochs: int, seed: int) -> RunSpec:
    return RunSpec().replace(epochs=epochs, units=4, lookback=5, patience=0, seed=seed)


def _state(store: RunStore, rid: str) -> str:
    return store.status(rid).get("state")


def _ended(store: RunStore, rid: str) -> bool:
    return _state(store, rid) not in ("queued", "running")


def _wait_done(store: RunStore, rid: str) -> dict:
    wait_for(lambda: _ended(store, rid), timeout=240, what=f"run {rid} to end")
    st = store.status(rid)
    assert st["state"] == "done", st
    assert store.is_complete(rid)
    return st


def test_two_runs_in_one_worker(store, prices):
    a = jobs.submit(_spec(2, seed=1), prices, store).run_id
    b = jobs.submit(_spec(2, seed=2), prices, store).run_id
    assert store.status(b)["state"] == "queued" and "pid" not in store.status(b)
    first, second = _wait_done(store, a), _wait_done(store, b)
    assert first["pid"] == second["pid"] and first["pid_created"] == second["pid_created"]
    assert (first["worker_runs"], second["worker_runs"]) == (0, 1)  # TensorFlow loaded once
    assert [w["pid"] for w in worker_pool.live_workers(store)] == [first["pid"]]  # still warm
    assert [r["epoch"] for r in store.metrics(b)] == [1, 2]
    # The second run reused the first one's compiled model (core/warm_models.py), reset to
    # its own start: its rows are those of a new model trained in this process.
    assert (store.summary(a)["compile"]["reused"], store.summary(b)["compile"]["reused"]) == (
        False,
        True,
    )
    fresh = training.fit(_spec(2, seed=2), dataset.make_dataset(prices, _spec(2, 2).data))
    assert [r["loss"] for r in store.metrics(b)] == [r["loss"] for r in fresh.history]


def test_a_crash_mid_run_fails_that_run_and_a_fresh_worker_takes_the_queue(store, prices):
    long = jobs.submit(_spec(500, seed=1), prices, store).run_id
    short = jobs.submit(_spec(2, seed=2), prices, store).run_id
    wait_for(lambda: store.status(long).get("epoch", 0) >= 1, timeout=240, what="epoch 1")
    victim = store.status(long)["pid"]
    os.kill(victim, signal.SIGKILL)  # the worker dies as in an OOM kill
    wait_for(lambda: _state(store, long) == "failed", timeout=10, what="interrupted")
    assert store.status(long)["error"] == INTERRUPTED
    assert _state(store, short) == "queued"  # waiting in the store, not lost with the worker
    jobs.queue(store)  # whoever looks at the queue (the sidebar) starts a fresh worker
    st = _wait_done(store, short)
    assert st["pid"] != victim and st["worker_runs"] == 0


def test_a_worker_is_recycled_after_n_runs(store, prices, monkeypatch):
    monkeypatch.setenv("GRADLAB_WORKER_MAX_RUNS", "1")
    a = jobs.submit(_spec(1, seed=1), prices, store).run_id
    b = jobs.submit(_spec(1, seed=2), prices, store).run_id
    first, second = _wait_done(store, a), _wait_done(store, b)
    assert first["pid"] != second["pid"]  # the first left after one run, a successor took b
    wait_for(
        lambda: not process_alive(first["pid"], first["pid_created"]),
        timeout=30,
        what="the recycled worker to exit",
    )


def test_cancel_a_queued_run_and_a_running_one(store, prices, monkeypatch):
    monkeypatch.setenv("GRADLAB_MAX_QUEUE", "2")
    running = jobs.submit(_spec(500, seed=1), prices, store).run_id
    queued = jobs.submit(_spec(500, seed=2), prices, store).run_id
    wait_for(lambda: _state(store, running) == "running", timeout=240, what="the first run")
    assert [r["state"] for r in jobs.queue(store)] == ["running", "queued"]
    assert jobs.cancel(queued, store)["state"] == "cancelled"
    pid, created = store.status(running)["pid"], store.status(running)["pid_created"]
    assert jobs.cancel(running, store)["state"] == "cancelled"
    wait_for(lambda: not process_alive(pid, created), timeout=10, what="the kill")
    assert jobs.queue(store) == [] and worker_pool.pending(store) == []
    assert _state(store, queued) == "cancelled" and store.metrics(queued) == []
