"""The Ray executor (GRADLAB_EXECUTOR=ray): each run is one Ray task on a cluster.

``RAY_ADDRESS`` names an existing cluster; without it ``ray.init()`` starts a local one in
this process (it lives as long as this process: the CLI waits for its runs, the dashboard
server keeps it). A task asks for ``num_gpus=1`` where the cluster has GPUs, else
``num_cpus`` (GRADLAB_RAY_CPUS, default 1), and runs ``python -m core.worker RUN_DIR`` (the
same ``core.worker.execute``) in a child process against the same run store, which every node must mount at the same path (docs/DEPLOY.md).

Semantics kept from the local executor:
- one fresh worker process per run (``max_calls=1``) and its child: the child's pid is the
  run's pid once it trains, TensorFlow and GPU memory go with it; ``max_retries=0``: Ray never re-runs a run behind our back, so a
  worker killed mid-run reads ``failed: interrupted`` and retrains only when resubmitted;
- while queued, the run's pid is the submitting process (the task's owner: if it dies, Ray
  drops its tasks, and the run reads interrupted);
- cancel: ``ray.cancel(force=True)`` where this process owns the task, a kill of the pid on
  this host, and, on any node, the task itself watching status.json for ``cancelled``;
- the run records ``executor``, ``host``, ``node_id``, ``node_ip`` and ``gpu_ids`` (and,
  as every run, the ``niceness`` it trained at).

Priority: Ray starts its workers at niceness 15 so they yield to its own daemons, and a child
inherits it; on a shared box that starves training (under six busy loops a task took minutes
to import TensorFlow where a local worker at niceness 0 had trained its run in 15 s). Our
runtime_env sets ``RAY_worker_niceness=0``, as a local worker runs; set RAY_worker_niceness in
the submitter's environment to choose another value.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.budget import env_count
from core.errors import UserError
from core.procs import process_identity
from core.runs import ACTIVE, INTERRUPTED, RunStore, now_iso

REPO_ROOT = Path(__file__).resolve().parent.parent
WATCH_S = 1.0  # how often a task looks for "cancelled" in its status.json
NICENESS = "RAY_worker_niceness"  # Ray's own setting; its default, 15, starves training


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError(
            "GRADLAB_EXECUTOR=ray needs Ray: pip install -r requirements-ray.txt, "
            "or unset GRADLAB_EXECUTOR to train locally"
        ) from None
    return ray


def connect() -> Any:
    """ray.init once per process: RAY_ADDRESS's cluster, or a local one on this machine."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    address = os.environ.get("RAY_ADDRESS", "").strip() or None
    # Workers import core.* from the repository, wherever the driver was started.
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        NICENESS: os.environ.get(NICENESS, "0"),  # see the module docstring
    }
    kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env}, "log_to_driver": False}
    if address is None:
        kwargs.update(include_dashboard=False, num_cpus=env_count("GRADLAB_RAY_NUM_CPUS", None))
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError) as exc:
        raise UserError(
            f"cannot reach the Ray cluster at RAY_ADDRESS={address!r} ({exc}): start it "
            "(ray start --head) or unset RAY_ADDRESS for a local one"
        ) from None
    return ray


def resources(ray: Any) -> dict[str, float]:
    """What one run asks for: a GPU where the cluster has any, else CPUs."""
    if ray.cluster_resources().get("GPU", 0) >= 1:
        return {"num_gpus": 1, "num_cpus": 1}
    return {"num_cpus": env_count("GRADLAB_RAY_CPUS", 1)}


def capacity() -> int:
    """Runs the cluster trains at once: its GPUs, else its CPUs per run's CPUs (1..64)."""
    ray = connect()
    total = ray.cluster_resources()
    per_run = resources(ray)
    slots = (
        total.get("GPU", 0) if "num_gpus" in per_run else total.get("CPU", 1) // per_run["num_cpus"]
    )
    return max(1, min(64, int(slots)))


def placement() -> dict[str, Any]:
    """Where this task runs, for status.json and summary.json."""
    import ray

    ctx = ray.get_runtime_context()
    return {
        "executor": "ray", "host": socket.gethostname(), "node_id": ctx.get_node_id(),
        "node_ip": ray.util.get_node_ip_address(), "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
    }  # fmt: skip


def run_task(root: str, run_id: str) -> str:
    """The body of a Ray task: ``python -m core.worker RUN_DIR`` in a child process on the
    shared store; returns the final state.

    The child, not this process, imports TensorFlow: under load (six busy loops on 2 cores)
    a Ray worker that imported it aborted inside TensorFlow ("Mutex corrupt", native code of
    both in one process) and hung holding the run. The child dies with this process
    (PDEATHSIG), so ray.cancel(force=True) still ends the training."""
    store = RunStore(root)
    if store.status(run_id).get("state") != "queued":
        return str(store.status(run_id).get("state"))  # cancelled (or served) meanwhile
    store.write_status(run_id, **placement(), **process_identity())
    # Ray already limits how many run at once; the store's slot locks are for local workers.
    env = {**os.environ, "GRADLAB_WORKERS": "64"}
    cmd = [sys.executable, "-m", "core.worker", str(store.run_dir(run_id))]
    child = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509
    threading.Thread(target=_watch, args=(store, run_id, child), daemon=True).start()
    child.wait()
    return str(store.status(run_id).get("state"))


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the Ray task process ends (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _watch(store: RunStore, run_id: str, child: subprocess.Popen) -> None:
    """Cancelled from any node (it only writes status.json): end the training at once."""
    while child.poll() is None:
        time.sleep(WATCH_S)
        with contextlib.suppress(Exception):
            if store.status(run_id).get("state") == "cancelled":
                child.kill()
                os._exit(1)


class RayExecutor:
    name = "ray"

    def __init__(self) -> None:
        self.refs: dict[str, Any] = {}  # run_id -> ObjectRef of the tasks this process owns
        self._remote: Any = None

    def launch(self, store: RunStore, run_id: str) -> dict[str, Any]:
        ray = connect()
        if self._remote is None:
            self._remote = ray.remote(max_calls=1, max_retries=0)(run_task)
        task = self._remote.options(**resources(ray))
        self.refs[run_id] = task.remote(str(store.root), run_id)
        # Until the task starts, this process owns the queued run (see the module docstring).
        return {**process_identity(), "host": socket.gethostname()}

    def stop(self, store: RunStore, run_id: str, status: Mapping[str, Any]) -> None:
        from core.executor_local import kill

        ref = self.refs.pop(run_id, None)
        if ref is not None:
            with contextlib.suppress(Exception):
                _ray().cancel(ref, force=True)
        if status.get("host") in (None, socket.gethostname()) and status.get("pid") != os.getpid():
            kill(status.get("pid"), status.get("pid_created"))
        # Elsewhere the task's own watcher ends it once jobs writes "cancelled".

    def ensure_started(self, store: RunStore, warm: bool = False) -> None:
        """Owned tasks that ended without finishing their run (a dead node): mark them.
        warm: nothing to prepare, Ray's workers are the cluster's."""
        if not self.refs:
            return
        ray = _ray()
        done, _ = ray.wait(list(self.refs.values()), num_returns=len(self.refs), timeout=0)
        for run_id, ref in list(self.refs.items()):
            if ref not in done:
                continue
            del self.refs[run_id]
            try:
                ray.get(ref, timeout=0)
            except Exception:  # the worker or its node died: the run did not finish
                if store.run_dir(run_id).exists() and store.status(run_id).get("state") in ACTIVE:
                    store.write_status(
                        run_id, state="failed", finished=now_iso(), error=INTERRUPTED
                    )
