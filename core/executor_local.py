"""The local executor: warm worker processes on this machine, at most GRADLAB_WORKERS.

launch() marks the queued run pending and makes sure enough warm workers live
(core/worker_pool.py: ``python -m core.worker --serve STORE``, each in its own session); a
worker that has already imported TensorFlow claims it, so a run starts without paying for
the import. While queued a run has no pid (it waits in the store, not in a process); once
claimed its pid is the worker's: kill -9 reads ``failed: interrupted``, and cancel kills the
worker's process group (the next ensure_started brings a fresh worker for the rest of the
queue). GRADLAB_WARM_WORKERS=0 keeps the server from starting a worker before the first run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core import worker_pool
from core.procs import process_alive
from core.runs import RunStore

REPO_ROOT = Path(__file__).resolve().parent.parent


class LocalExecutor:
    name = "local"

    def __init__(self) -> None:
        # (store root, worker) spawned by this process; reaped on each call: no zombies linger
        self.children: list[tuple[Path, subprocess.Popen]] = []

    def launch(self, store: RunStore, run_id: str) -> dict[str, Any]:
        worker_pool.mark_pending(store, run_id)
        self.ensure_started(store)
        return {}  # no pid while queued: the run waits in the store, not in a process

    def stop(self, store: RunStore, run_id: str, status: Mapping[str, Any]) -> None:
        worker_pool.unmark(store, run_id)
        kill(status.get("pid"), status.get("pid_created"))
        self.reap()

    def ensure_started(self, store: RunStore, warm: bool = False) -> None:
        """Enough workers for the pending runs (at most GRADLAB_WORKERS); warm: at least one."""
        from core.jobs import max_workers

        self.reap()
        workers = worker_pool.live_workers(store)
        registered = {w["pid"] for w in workers}
        # Spawned for THIS store, not yet registered; a killed one can linger unreaped for a
        # moment as a zombie while its threads exit, and must not count as starting. A worker
        # serving another store (a second store in the same process) starts nothing here.
        root = store.root.resolve()
        starting = [
            p
            for r, p in self.children
            if r == root and p.pid not in registered and process_alive(p.pid, None)
        ]
        busy = sum(1 for w in workers if w.get("serving"))
        want = len(worker_pool.pending(store))
        if warm and os.environ.get("GRADLAB_WARM_WORKERS", "1") != "0":
            want = max(want, 1)
        target = min(max_workers(), busy + want)
        for _ in range(target - len(workers) - len(starting)):
            self.children.append((root, spawn_worker(store)))

    def reap(self) -> None:
        for entry in list(self.children):
            if entry[1].poll() is not None:
                self.children.remove(entry)


def spawn_worker(store: RunStore) -> subprocess.Popen:
    """A warm worker for store, in its own session (cancel kills it and its children)."""
    return subprocess.Popen(
        [sys.executable, "-m", "core.worker", "--serve", str(store.root)],
        cwd=REPO_ROOT,
        env={**os.environ, "MODELS_CACHE": str(store.root)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill(pid: Any, created: Any) -> None:
    """SIGKILL a worker's process group (or the process alone if it leads none)."""
    if not process_alive(pid, created) or pid == os.getpid():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:  # a worker we spawned leads its own group
            os.killpg(pid, signal.SIGKILL)
        else:  # a foreground `python -m core train`: never kill the user's shell group
            os.kill(pid, signal.SIGKILL)
