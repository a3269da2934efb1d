"""Submitting, cancelling and listing background runs, on top of the run store.

This module decides WHAT trains: settings and data are validated before the store is
touched, a finished run of the same spec and data is reused ("the same spec never trains
twice"), an in-flight one is returned instead of a second copy, and at most
GRADLAB_MAX_QUEUE runs are queued or training, counted and created under one store-wide
lock so simultaneous submitters in different processes cannot overshoot it. WHERE it trains
is the executor's business (core/executor.py: local worker processes or Ray).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import filelock

from core import budget
from core.config import RunSpec, run_id
from core.errors import UserError
from core.executor import Executor, get_executor
from core.runs import ACTIVE, RunStore, now_iso

if TYPE_CHECKING:  # only annotations: the sidebar's queue() must not import pandas
    import pandas as pd


CANCEL_LOCK_S = 5.0


@dataclass(frozen=True)
class Submitted:
    run_id: str
    cached: bool  # True: a finished run with these settings and data already exists
    state: str  # done | queued | running


def max_workers() -> int:
    """Runs that may train at once (GRADLAB_WORKERS, default 1: one run owns the CPU/GPU)."""
    return budget.env_count("GRADLAB_WORKERS", 1, hi=64)


def max_queue() -> int:
    """Runs that may wait or train at once (GRADLAB_MAX_QUEUE)."""
    return budget.env_count("GRADLAB_MAX_QUEUE", 16, hi=1000)


def check_env() -> None:
    """The job settings read from the environment, checked before anything is written (a bad
    GRADLAB_WORKERS used to surface only after the run was queued, leaving it behind)."""
    max_workers()
    max_queue()


def check(spec: RunSpec, prices: pd.DataFrame | None) -> str:
    """Validate settings and data fully (before the store is touched); returns the fingerprint."""
    from core import data, dataset  # lazy: keeps `import core.jobs` cheap for the UI

    check_env()
    spec.validate()
    if spec.data.source == "task":  # generated data: no prices, the fingerprint hashes it
        from core import tasks

        budget.check(spec, spec.data.n_train, 1)
        return tasks.fingerprint(spec.data)
    ds = dataset.make_dataset(prices, spec.data)  # too few rows for the lookback → DataError
    budget.check(spec, len(ds.train.x), len(ds.feature_names))  # refused before it costs
    return data.fingerprint(prices)


def submit(
    spec: RunSpec,
    prices: pd.DataFrame | None,
    store: RunStore | None = None,
    executor: Executor | None = None,
) -> Submitted:
    """Queue a run on the executor, or return the finished/in-flight run of the same spec."""
    store = store or RunStore()
    executor = executor or get_executor()
    fp = check(spec, prices)
    rid = run_id(spec, fp)
    with store.lock(rid):  # two submissions of one spec must not both start a worker
        if store.is_complete(rid):
            store.touch(rid)
            return Submitted(rid, True, "done")
        if store.run_dir(rid).exists():
            state = store.status(rid).get("state")
            if state in ACTIVE:
                executor.ensure_started(store)
                return Submitted(rid, False, state)
        if spec.data.source != "task":
            store.save_prices(prices, fp)
        with queue_lock(store):  # count + create as one step across processes
            if len(queue(store, ensure=False)) >= max_queue():
                raise UserError(
                    f"{max_queue()} runs are already queued or training: "
                    "wait for one to finish or cancel one"
                )
            store.create(spec, fp)
        store.write_status(rid, executor=executor.name)  # before a worker can see it
        fields = executor.launch(store, rid)
        if fields:
            store.write_status(rid, **fields)
    return Submitted(rid, False, "queued")


def queue_lock(store: RunStore) -> filelock.BaseFileLock:
    """The store-wide lock around "count the active runs, create one" (GRADLAB_MAX_QUEUE)."""
    (store.root / "_locks").mkdir(exist_ok=True)
    return filelock.FileLock(str(store.root / "_locks" / "_queue.lock"), timeout=60)


def cancel(run_id: str, store: RunStore | None = None) -> dict[str, Any]:
    """Stop a queued or training run (its executor kills its compute); returns its status."""
    store = store or RunStore()
    if not store.run_dir(run_id).exists():
        raise UserError(f"there is no run {run_id}: pick one from the queue")
    # The run's lock keeps a worker from claiming it between our read and our write; a
    # foreground CLI run holds it for its whole training, so don't wait for that one.
    lock = store.lock(run_id, timeout=CANCEL_LOCK_S)
    with contextlib.suppress(filelock.Timeout), lock:
        return _cancel(store, run_id)
    return _cancel(store, run_id)


def _cancel(store: RunStore, run_id: str) -> dict[str, Any]:
    st = store.status(run_id)
    if st.get("state") not in ACTIVE:
        return dict(st)  # finished meanwhile: nothing to stop
    get_executor(st.get("executor") or "local").stop(store, run_id, st)
    return store.write_status(
        run_id, state="cancelled", finished=now_iso(), error="cancelled by the user"
    )


def ensure_started(store: RunStore | None = None, warm: bool = False) -> None:
    """Make sure queued runs will be served; warm (the server): a worker ready beforehand."""
    get_executor().ensure_started(store or RunStore(), warm=warm)


def queue(store: RunStore | None = None, *, ensure: bool = True) -> list[dict[str, Any]]:
    """Queued and training runs, oldest first, with epoch/epochs progress.

    ensure=True (the queue view) also lets the executor start workers for queued runs
    whose worker is gone, so whoever looks at the queue keeps it moving."""
    store = store or RunStore()
    rows = []
    for rid in store.run_ids():
        st = store.status(rid)
        if st.get("state") not in ACTIVE:
            continue
        row = {"run_id": rid, "state": st["state"], "epoch": st.get("epoch", 0)}
        row.update(epochs=st.get("epochs"), started=st.get("started"), device=st.get("device"))
        row["queued_at"] = st.get("queued_at") or 0.0
        row["executor"] = st.get("executor") or "local"
        with contextlib.suppress(Exception):  # a damaged spec must not hide the queue
            spec = store.spec(rid)
            row.update(cell=spec.model.cell, ticker=spec.data.ticker, seed=spec.train.seed)
        rows.append(row)
    if ensure and rows:
        with contextlib.suppress(UserError):  # a bad GRADLAB_EXECUTOR must not hide the queue
            ensure_started(store)
    return sorted(rows, key=lambda r: r["queued_at"])
