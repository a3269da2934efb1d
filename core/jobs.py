"""Background training on this machine: one worker process per run, at most N at a time.

A job is ``python -m core train --run-dir <dir>`` in its own session; it waits for one of
N slot locks (core.worker) before it imports TensorFlow, so queued jobs stay light. The run
store is the only channel back: progress, results and failures are files. Cancel is a kill
of the worker's process group. A cluster backend (Ray: one task per run, the store on
shared storage) would be a sibling module with the same three functions.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from core.config import RunSpec, run_id
from core.errors import UserError
from core.procs import process_alive
from core.runs import ACTIVE, RunStore, now_iso

if TYPE_CHECKING:  # only annotations: the sidebar's queue() must not import pandas
    import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
_children: list[subprocess.Popen] = []  # reaped on each call so workers never linger as zombies


@dataclass(frozen=True)
class Submitted:
    run_id: str
    cached: bool  # True: a finished run with these settings and data already exists
    state: str  # done | queued | running


def _env_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise UserError(f"{name} must be a whole number between {lo} and {hi}, got {raw!r}")
    return int(raw)


def max_workers() -> int:
    """Runs that may train at once (GRADLAB_WORKERS, default 1: one run owns the CPU/GPU)."""
    return _env_int("GRADLAB_WORKERS", 1, 1, 64)


def max_queue() -> int:
    """Runs that may wait or train at once (GRADLAB_MAX_QUEUE); each waiting one is a process."""
    return _env_int("GRADLAB_MAX_QUEUE", 16, 1, 1000)


def check(spec: RunSpec, prices: pd.DataFrame | None) -> str:
    """Validate settings and data fully (before the store is touched); returns the fingerprint."""
    from core import data, dataset  # lazy: keeps `import core.jobs` cheap for the UI

    spec.validate()
    if spec.data.source == "task":  # generated data: no prices, the fingerprint hashes it
        from core import tasks

        return tasks.fingerprint(spec.data)
    dataset.make_dataset(prices, spec.data)  # too few rows for the lookback → DataError
    return data.fingerprint(prices)


def submit(spec: RunSpec, prices: pd.DataFrame | None, store: RunStore | None = None) -> Submitted:
    """Queue a run in a worker process, or return the finished/in-flight run of the same spec."""
    store = store or RunStore()
    fp = check(spec, prices)
    rid = run_id(spec, fp)
    _reap()
    with store.lock(rid):  # two submissions of one spec must not both spawn a worker
        if store.is_complete(rid):
            store.touch(rid)
            return Submitted(rid, True, "done")
        if store.run_dir(rid).exists():
            state = store.status(rid).get("state")
            if state in ACTIVE:
                return Submitted(rid, False, state)
        if len(queue(store)) >= max_queue():
            raise UserError(
                f"{max_queue()} runs are already queued or training: "
                "wait for one to finish or cancel one"
            )
        if spec.data.source != "task":
            store.save_prices(prices, fp)
        store.create(spec, fp)
        proc = _spawn(store, rid)
        store.write_status(rid, **_identity(proc.pid))
    return Submitted(rid, False, "queued")


def _spawn(store: RunStore, rid: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "core", "train", "--run-dir", str(store.run_dir(rid))]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO_ROOT,
        env={**os.environ, "MODELS_CACHE": str(store.root)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: cancel kills it and its children
    )
    _children.append(proc)
    return proc


def _identity(pid: int) -> dict[str, Any]:
    try:
        return {"pid": pid, "pid_created": psutil.Process(pid).create_time()}
    except psutil.Error:  # already gone: status() will read it as interrupted
        return {"pid": pid, "pid_created": None}


def _reap() -> None:
    for proc in list(_children):
        if proc.poll() is not None:
            _children.remove(proc)


def cancel(run_id: str, store: RunStore | None = None) -> dict[str, Any]:
    """Stop a queued or training run (SIGKILL to its process group); returns its status."""
    store = store or RunStore()
    if not store.run_dir(run_id).exists():
        raise UserError(f"there is no run {run_id}: pick one from the queue")
    st = store.status(run_id)
    if st.get("state") not in ACTIVE:
        return st  # finished meanwhile: nothing to stop
    _kill(st.get("pid"), st.get("pid_created"))
    _reap()
    return store.write_status(
        run_id, state="cancelled", finished=now_iso(), error="cancelled by the user"
    )


def _kill(pid: Any, created: Any) -> None:
    if not process_alive(pid, created) or pid == os.getpid():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:  # a worker we spawned leads its own group
            os.killpg(pid, signal.SIGKILL)
        else:  # a foreground `python -m core train`: never kill the user's shell group
            os.kill(pid, signal.SIGKILL)


def queue(store: RunStore | None = None) -> list[dict[str, Any]]:
    """Queued and training runs, oldest first, with epoch/epochs progress."""
    store = store or RunStore()
    _reap()
    rows = []
    for rid in store.run_ids():
        st = store.status(rid)
        if st.get("state") not in ACTIVE:
            continue
        row = {"run_id": rid, "state": st["state"], "epoch": st.get("epoch", 0)}
        row.update(epochs=st.get("epochs"), started=st.get("started"), device=st.get("device"))
        row["queued_at"] = st.get("queued_at") or 0.0
        with contextlib.suppress(Exception):  # a damaged spec must not hide the queue
            spec = store.spec(rid)
            row.update(cell=spec.model.cell, ticker=spec.data.ticker, seed=spec.train.seed)
        rows.append(row)
    return sorted(rows, key=lambda r: r["queued_at"])
