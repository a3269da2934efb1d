"""Warm workers: one process imports TensorFlow once and trains queued runs one after another.

``python -m core.worker --serve STORE`` registers itself in ``<store>/_workers/<pid>.json``,
imports TensorFlow, then loops: take the oldest pending run (``<store>/_pending/<run_id>``,
written by the local executor's launch), hold one of the GRADLAB_WORKERS slot locks, claim
the run under its lock (its status gets this worker's pid: kill -9 reads failed:
interrupted), train it with ``worker.execute``, release the slot. At most GRADLAB_WORKERS
workers live at once. A worker leaves after GRADLAB_WORKER_MAX_RUNS runs or once it holds
more than GRADLAB_WORKER_MAX_MB of memory (bounding leaks; a successor takes the queue),
or after GRADLAB_WORKER_IDLE_S seconds without work.

A warm worker also keeps its compiled models (core/warm_models.py): a run of an
architecture it has trained before reuses that model's traced steps, and while idle it
compiles the Train page's default architecture before the first click (GRADLAB_PREWARM=0
turns that off).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import filelock
import psutil

from core import atomic, warm_models, worker
from core.budget import env_count
from core.errors import UserError
from core.procs import process_alive, process_identity
from core.runs import RunStore

# Idle polling of a small directory (one listdir, no run files while nothing is queued): a
# submitted run starts within this. At 0.25 s the default run's queue wait was 0.15-0.21 s
# (median of 5 clicks, bench/ttr.py); 20 empty listdirs a second cost nothing measurable.
POLL_S = 0.05


def max_runs() -> int:
    """Runs one warm worker trains before it is replaced (GRADLAB_WORKER_MAX_RUNS)."""
    return env_count("GRADLAB_WORKER_MAX_RUNS", 25)


def max_mb() -> int:
    """Resident memory after which a warm worker is replaced (GRADLAB_WORKER_MAX_MB)."""
    return env_count("GRADLAB_WORKER_MAX_MB", 3072)


def idle_s() -> int:
    """Seconds a warm worker waits for work before it leaves (GRADLAB_WORKER_IDLE_S)."""
    return env_count("GRADLAB_WORKER_IDLE_S", 900)


def prewarm_on() -> bool:
    """Whether a warm worker compiles the default architectures before the first run
    (GRADLAB_PREWARM=0 turns it off: tests, or a box that serves other models only)."""
    return os.environ.get("GRADLAB_PREWARM", "1").strip() != "0"


def _dir(store: RunStore, name: str) -> Path:
    path = store.root / name
    path.mkdir(exist_ok=True)
    return path


# ---- the pending list: which queued runs wait for a warm worker ----------------------


def mark_pending(store: RunStore, run_id: str) -> None:
    (_dir(store, "_pending") / run_id).touch()


def unmark(store: RunStore, run_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (store.root / "_pending" / run_id).unlink()


def pending(store: RunStore) -> list[str]:
    """Run ids waiting for a worker, oldest first; markers of runs no longer queued go."""
    marks = []
    for path in _dir(store, "_pending").iterdir():
        try:
            st = store.status(path.name)
            marks.append((path.stat().st_mtime, path.name))
        except (UserError, FileNotFoundError):  # not a run id, or removed meanwhile
            path.unlink(missing_ok=True)
            continue
        if st.get("state") != "queued" or "pid" in st:
            unmark(store, path.name)
            marks.pop()
    return [rid for _, rid in sorted(marks)]


# ---- the registry: which warm workers are alive, and what each serves ----------------


def live_workers(store: RunStore) -> list[dict[str, Any]]:
    """Registered workers whose process still runs (stale entries are removed)."""
    alive = []
    for path in _dir(store, "_workers").glob("[0-9]*.json"):  # not a writer's temp file
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # unreadable (hand-edited): not a worker this can judge
        if process_alive(entry.get("pid"), entry.get("pid_created")):
            alive.append(entry)
        else:
            path.unlink(missing_ok=True)
    return alive


def _register(store: RunStore, entry: dict[str, Any]) -> None:
    # The one atomic writer: a worker killed mid-write leaves a temp that clean_tmp removes.
    atomic.write_text(_dir(store, "_workers") / f"{entry['pid']}.json", json.dumps(entry))


def _unregister(store: RunStore, pid: int) -> None:
    (store.root / "_workers" / f"{pid}.json").unlink(missing_ok=True)


def _claim(store: RunStore, run_id: str, me: dict[str, Any]) -> bool:
    """Take a pending run under its lock: only a still-queued, unowned run is ours."""
    lock = store.lock(run_id, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        return False  # a submit or cancel is deciding about it: look again next round
    try:
        st = store.status(run_id)
        if st.get("state") != "queued" or "pid" in st:
            unmark(store, run_id)
            return False
        store.write_status(
            run_id,
            pid=me["pid"],
            pid_created=me["pid_created"],
            claimed_ts=time.time(),
            worker_started_ts=me["pid_created"],
            worker_ready_ts=me["ready_ts"],
            worker_runs=me["runs"],
        )
        unmark(store, run_id)
        return True
    finally:
        lock.release()


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1024**2


def serve(store: RunStore, log: worker.Log | None = None) -> str:
    """Serve the pending runs of store until recycled or idle; returns why it stopped."""
    from core.jobs import max_workers

    log = log or (lambda _msg: None)
    me: dict[str, Any] = {**process_identity(), "ready_ts": None, "runs": 0, "serving": None}
    with filelock.FileLock(str(_dir(store, "_workers") / ".lock"), timeout=30):
        if len(live_workers(store)) >= max_workers():
            return "enough workers"  # another submitter started one at the same moment
        _register(store, me)
    try:
        from core import training  # the cost a warm worker pays once, before any click

        _import_run_modules()
        training.setup_device(False)
        me["ready_ts"] = time.time()
        _register(store, me)
        models = warm_models.ModelCache()
        prewarm = warm_models.Prewarmer(models, log)
        if not prewarm_on():
            prewarm.todo.clear()
        return _loop(store, me, log, prewarm)
    finally:
        _unregister(store, me["pid"])


def _import_run_modules() -> None:
    """What a run imports after training (evaluation's scipy, the predictions' parquet
    writer): imported here, before any click, not inside the first run (~1 s there)."""
    import pyarrow.parquet  # noqa: F401

    from core import evaluation  # noqa: F401


def _prewarm_step(store: RunStore, prewarm: warm_models.Prewarmer) -> bool:
    """Idle: compile the next default architecture, holding a slot like any training."""
    slot = worker.try_slot(store)
    if slot is None:  # a foreground CLI run trains: not now
        return False
    try:
        return prewarm.step()
    finally:
        slot.release()


def _loop(
    store: RunStore, me: dict[str, Any], log: worker.Log, prewarm: warm_models.Prewarmer
) -> str:
    idle_since = time.time()
    while True:
        queue = pending(store)
        if not queue:
            if prewarm.todo and _prewarm_step(store, prewarm):
                me["prewarmed"] = prewarm.spent
                _register(store, me)
                idle_since = time.time()
                continue
            if time.time() - idle_since > idle_s():
                return "idle"
            time.sleep(POLL_S)
            continue
        slot = worker.try_slot(store)
        if slot is None:  # a foreground CLI run or another worker trains: wait for a slot
            time.sleep(POLL_S)
            continue
        try:
            rid = next((r for r in queue if _claim(store, r, me)), None)
            if rid is not None:
                me["serving"] = rid
                _register(store, me)
                worker.execute(store, rid, log, slot_held=True, models=prewarm.cache)
        finally:
            slot.release()
        if rid is None:
            continue
        me["runs"] += 1
        me["serving"] = None
        _register(store, me)
        idle_since = time.time()
        if me["runs"] >= max_runs() or _rss_mb() > max_mb():
            return "recycled"
