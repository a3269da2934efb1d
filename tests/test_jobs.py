"""Jobs: background workers train once, survive kill -9 honestly, honour the queue, cancel."""

import os
import signal
import threading
import time

import pytest

from core import data, jobs
from core.config import RunSpec
from core.errors import UserError
from core.executor import get_executor
from core.runs import INTERRUPTED, RunStore, process_alive
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def prices():
    return data.load_prices("sample", "^GSPC", start="2015-01-01", end="2016-06-30")


def _spec(epochs: int, seed: int = 0) -> RunSpec:
    return RunSpec().replace(epochs=epochs, units=4, lookback=5, patience=0, seed=seed)


def _state(store: RunStore, rid: str) -> str:
    return store.status(rid).get("state")


def test_env_limits_are_checked(monkeypatch):
    monkeypatch.setenv("GRADLAB_WORKERS", "0")
    with pytest.raises(UserError, match="GRADLAB_WORKERS"):
        jobs.max_workers()
    monkeypatch.setenv("GRADLAB_WORKERS", "3")
    assert jobs.max_workers() == 3


def test_bad_spec_or_data_writes_nothing(store_root, prices):
    with pytest.raises(UserError):
        jobs.submit(_spec(0), prices)
    with pytest.raises(UserError, match="rows"):
        jobs.submit(_spec(1).replace(lookback=500), prices)
    assert list(store_root.iterdir()) == []


@pytest.mark.slow
def test_double_submit_trains_once_then_hits_cache(store_root, prices, monkeypatch):
    store = RunStore()
    spawned = []  # count launches on the executor: each one would start training
    local = get_executor("local")
    real_launch = local.launch
    monkeypatch.setattr(local, "launch", lambda *a: spawned.append(real_launch(*a)) or spawned[-1])
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(jobs.submit(_spec(3), prices, store)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.run_id for r in results}) == 1 and not any(r.cached for r in results)
    assert len(spawned) == 1  # one launch for two submits
    rid = results[0].run_id
    assert jobs.queue(store)[0]["run_id"] == rid
    wait_for(
        lambda: _state(store, rid) in ("done", "failed"), timeout=240, what="the run to finish"
    )
    assert _state(store, rid) == "done", store.status(rid)
    assert [r["epoch"] for r in store.metrics(rid)] == [1, 2, 3]
    assert store.is_complete(rid) and jobs.queue(store) == []
    again = jobs.submit(_spec(3), prices, store)
    assert again == jobs.Submitted(rid, True, "done")
    assert len(spawned) == 1  # the cache hit spawned nothing


@pytest.mark.slow
def test_kill_9_mid_run_reads_interrupted_and_the_spec_retrains(store_root, prices):
    store = RunStore()
    rid = jobs.submit(_spec(8), prices, store).run_id
    wait_for(lambda: store.status(rid).get("epoch", 0) >= 1, timeout=240, what="the first epoch")
    st = store.status(rid)
    os.kill(st["pid"], signal.SIGKILL)
    wait_for(lambda: _state(store, rid) == "failed", timeout=10, what="the interrupted state")
    assert store.status(rid)["error"] == INTERRUPTED
    row = next(r for r in store.list_runs() if r["run_id"] == rid)
    assert row["state"] == "failed" and not row["damaged"]
    assert store.metrics(rid) and store.summary(rid) is None and not store.is_complete(rid)
    again = jobs.submit(_spec(8), prices, store)
    assert again.run_id == rid and not again.cached and again.state == "queued"
    wait_for(lambda: _state(store, rid) in ("done", "failed"), timeout=240, what="the retrain")
    assert _state(store, rid) == "done" and store.is_complete(rid)
    assert [r["epoch"] for r in store.metrics(rid)] == list(range(1, 9))


@pytest.mark.slow
def test_queue_limits_and_cancel(store_root, prices, monkeypatch):
    monkeypatch.setenv("GRADLAB_WORKERS", "1")
    monkeypatch.setenv("GRADLAB_MAX_QUEUE", "2")
    store = RunStore()
    first = jobs.submit(_spec(500, seed=1), prices, store).run_id
    wait_for(lambda: _state(store, first) == "running", timeout=240, what="the first run to start")
    second = jobs.submit(_spec(500, seed=2), prices, store).run_id
    with pytest.raises(UserError, match="already queued or training"):
        jobs.submit(_spec(500, seed=3), prices, store)
    time.sleep(2.0)  # one slot: the second run must still be waiting
    assert [r["state"] for r in jobs.queue(store)] == ["running", "queued"]
    assert "pid" not in store.status(second)  # queued in the store: no process to kill
    for rid in (second, first):
        pid, created = store.status(rid).get("pid"), store.status(rid).get("pid_created")
        assert jobs.cancel(rid, store)["state"] == "cancelled"
        wait_for(lambda p=pid, c=created: not process_alive(p, c), timeout=10, what="the kill")
        assert _state(store, rid) == "cancelled"
    assert jobs.queue(store) == []
