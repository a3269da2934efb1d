"""Hold a training worker to its run's limits: memory (GRADLAB_RUN_MEMORY_MB) and wall clock
(GRADLAB_RUN_TIMEOUT_S).

core/budget.py refuses what cannot fit before it starts; this watchdog catches what the
estimate missed. A thread samples the worker's resident memory and the clock; past a limit
it records why the run stopped (status failed, with the figure and the limit) and SIGKILLs
its own process: TensorFlow cannot be interrupted mid-step, and a worker that dies frees all
of its memory, while the Streamlit server, another process, is never touched. The kernel's
OOM killer is pointed at workers first as well (oom_score_adj), for an allocation faster
than the watchdog's sampling. A warm worker killed this way is replaced by a fresh one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

import psutil

from core import budget
from core.runs import RunStore, now_iso

SAMPLE_S = 0.2


def prefer_for_oom_killer() -> None:
    """Ask the kernel to kill this worker, not the server, if memory runs out (Linux)."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")


class Watchdog:
    """Context manager around one run's training in this process."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store, self.run_id = store, run_id
        self.limit_mb, self.timeout_s = budget.memory_limit_mb(), budget.timeout_s()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="gradlab-watchdog", daemon=True)

    def __enter__(self) -> Watchdog:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        proc = psutil.Process()
        while not self._done.wait(SAMPLE_S):
            rss_mb = proc.memory_info().rss / 1024**2
            if rss_mb > self.limit_mb:
                self._stop(
                    f"stopped: the worker used {rss_mb:,.0f} MB, above the limit of "
                    f"{self.limit_mb:,} MB (GRADLAB_RUN_MEMORY_MB): use fewer units or "
                    "layers, a shorter lookback or a smaller batch",
                    "memory",
                )
            elapsed = time.monotonic() - self._start
            if elapsed > self.timeout_s:
                self._stop(
                    f"stopped: the run trained for {elapsed:,.0f} s, above the limit of "
                    f"{self.timeout_s:,} s (GRADLAB_RUN_TIMEOUT_S): use fewer epochs or a "
                    "smaller model, or raise the limit",
                    "timeout",
                )

    def _stop(self, message: str, reason: str) -> None:
        if self._done.is_set() or self.store.status(self.run_id).get("state") != "running":
            return  # the run ended meanwhile: nothing to stop
        with contextlib.suppress(Exception):  # the kill must happen even if the write fails
            self.store.write_status(
                self.run_id, state="failed", finished=now_iso(), error=message, stopped=reason
            )
        print(f"error: {message}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
