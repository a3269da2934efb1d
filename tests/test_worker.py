"""Worker: slot locks before TensorFlow, failures recorded as status, cancel while queued."""

import contextlib
import os
import threading
import time

import filelock

from core import dataset, worker
from core.config import RunSpec
from core.runs import RunStore

FP = "cd" * 32  # prices never saved under this fingerprint


@contextlib.contextmanager
def _slot_taken(store_root):
    """Hold worker slot 0, as a training worker would."""
    (store_root / "_slots").mkdir()
    busy = filelock.FileLock(str(store_root / "_slots" / "0.lock"), timeout=0)
    busy.acquire()
    try:
        yield
    finally:
        busy.release()


def _queued(store: RunStore, seed: int = 0) -> str:
    spec = RunSpec().replace(seed=seed, epochs=1, units=4, lookback=5)
    return store.create(spec, FP, pid=os.getpid())


def test_missing_prices_fail_with_the_user_message(store_root):
    store = RunStore()
    rid = _queued(store)
    result = worker.execute(store, rid)
    st = store.status(rid)
    assert st["state"] == "failed" == result["state"]
    assert "no longer in the store" in st["error"] and st["finished"]
    assert not store.is_complete(rid)


def test_unexpected_exception_is_an_internal_error(store_root, monkeypatch):
    store = RunStore()
    rid = _queued(store)
    monkeypatch.setattr(store, "load_prices", lambda fp: None)

    def boom(prices, spec):
        raise RuntimeError("boom")

    monkeypatch.setattr(dataset, "make_dataset", boom)
    worker.execute(store, rid)
    assert store.status(rid)["error"] == "internal error: RuntimeError: boom"


def test_waits_for_a_free_slot_and_stops_when_cancelled(store_root, monkeypatch):
    monkeypatch.setenv("GRADLAB_WORKERS", "1")
    store = RunStore()
    rid = _queued(store)
    with _slot_taken(store_root):  # another worker is training
        done = {}
        thread = threading.Thread(target=lambda: done.update(worker.execute(store, rid)))
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive() and store.status(rid)["state"] == "queued"
        store.write_status(rid, state="cancelled")
        thread.join(timeout=60)  # a bound for a saturated box, not a speed
        assert not thread.is_alive() and done["state"] == "cancelled"


def test_second_slot_lets_a_second_run_start(store_root, monkeypatch):
    monkeypatch.setenv("GRADLAB_WORKERS", "2")
    store = RunStore()
    rid = _queued(store)
    with _slot_taken(store_root):
        assert worker.execute(store, rid)["state"] == "failed"  # ran (and found no prices)
