"""The local executor: worker processes on this machine, at most GRADLAB_WORKERS training.

A run is served by ``python -m core.worker RUN_DIR`` in its own session (process group): it
waits for one of N slot locks (core.worker) before it imports TensorFlow, so queued runs stay
light. Its pid is the run's pid in status.json: kill -9 reads ``failed: interrupted``, and
cancel is a kill of its process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

from core.procs import process_alive
from core.runs import RunStore

REPO_ROOT = Path(__file__).resolve().parent.parent


class LocalExecutor:
    name = "local"

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []  # reaped on each call: no zombies linger

    def launch(self, store: RunStore, run_id: str) -> dict[str, Any]:
        self.reap()
        return identity(self.spawn(store, run_id).pid)

    def stop(self, store: RunStore, run_id: str, status: dict[str, Any]) -> None:
        kill(status.get("pid"), status.get("pid_created"))
        self.reap()

    def ensure_started(self, store: RunStore) -> None:
        self.reap()  # each queued run has its own waiting process: nothing else to start

    def spawn(self, store: RunStore, run_id: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "core.worker", str(store.run_dir(run_id))]
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env={**os.environ, "MODELS_CACHE": str(store.root)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: cancel kills it and its children
        )
        self.children.append(proc)
        return proc

    def reap(self) -> None:
        for proc in list(self.children):
            if proc.poll() is not None:
                self.children.remove(proc)


def identity(pid: int) -> dict[str, Any]:
    try:
        return {"pid": pid, "pid_created": psutil.Process(pid).create_time()}
    except psutil.Error:  # already gone: status() will read it as interrupted
        return {"pid": pid, "pid_created": None}


def kill(pid: Any, created: Any) -> None:
    """SIGKILL a worker's process group (or the process alone if it leads none)."""
    if not process_alive(pid, created) or pid == os.getpid():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:  # a worker we spawned leads its own group
            os.killpg(pid, signal.SIGKILL)
        else:  # a foreground `python -m core train`: never kill the user's shell group
            os.kill(pid, signal.SIGKILL)
