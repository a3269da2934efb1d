"""Is the process that wrote this still alive? pid + create time, so a reused pid never fools us.

The run store records its writer's identity in status.json and names temp files after the pid,
so a crash (kill -9, power loss) is recognised by asking the OS, not by timeouts alone.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

# ".tmp-<pid>-…" from core.atomic; ".<stem>.<pid>.tmp.keras" from training.save_model of old.
_TMP_PID_RE = re.compile(r"^\.tmp-(\d+)-|^\..*\.(\d+)\.tmp\.keras$")


def process_identity(pid: int | None = None) -> dict[str, Any]:
    """pid plus its create time: together they survive pid reuse."""
    proc = psutil.Process(pid or os.getpid())
    return {"pid": proc.pid, "pid_created": proc.create_time()}


def process_alive(pid: Any, created: Any) -> bool:
    """True if pid runs and is the same process that was recorded (not a reused pid)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return not isinstance(created, (int, float)) or abs(proc.create_time() - created) <= 1.0
    except psutil.Error:
        return False


def worker_alive(status: Mapping[str, Any]) -> bool:
    """A run's recorded worker still runs; one on another host (a Ray node) counts as alive.

    This host cannot see another node's processes; the executor that owns such a task marks
    the run interrupted when the task dies (core/executor_ray.py).
    """
    if status.get("host") not in (None, socket.gethostname()):
        return True
    return process_alive(status.get("pid"), status.get("pid_created"))


def orphaned(path: Path, min_age_s: float) -> bool:
    """A temp file whose writer is gone (or that is older than min_age_s): safe to delete."""
    match = _TMP_PID_RE.match(path.name)
    try:
        pid = int(match.group(1) or match.group(2))  # type: ignore[union-attr]  # no match: caught below
        age = time.time() - path.stat().st_mtime
    except (AttributeError, FileNotFoundError):
        return False
    return pid != os.getpid() and (not psutil.pid_exists(pid) or age > min_age_s)
