"""The executor seam: where a queued run's compute happens. The run store stays the contract.

core.jobs decides WHAT runs (validation, the cache, "same spec never trains twice", the queue
limit) and writes the queued run into the store; an executor only decides WHERE and WHEN it
trains. Every executor trains a run by calling ``core.worker.execute(store, run_id)`` in some
process that sees the same store (a local worker process, a Ray task on a node that mounts
it), so progress, results and failures reach the UI as files, whatever the executor.

``GRADLAB_EXECUTOR`` picks one: ``local`` (default, nothing to install: worker processes on
this machine) or ``ray`` (core/executor_ray.py, loaded only when asked for).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import UserError

if TYPE_CHECKING:
    from core.runs import RunStore

# name -> "module:class"; a module is imported only when its executor is chosen.
EXECUTORS = {"local": "core.executor_local:LocalExecutor", "ray": "core.executor_ray:RayExecutor"}


class Executor(Protocol):
    """What core.jobs needs from a place that trains runs. All methods are idempotent-safe.

    launch(store, run_id): the run exists in the store with state "queued" (jobs holds the
        run's lock). Arrange for worker.execute(store, run_id) to happen once; return the
        status fields to record now (jobs adds ``executor``). If this returns, the run is
        served eventually or reads failed; it never stays queued with no one to serve it,
        unless ensure_started() later starts its server.
    stop(store, run_id, status): the run is queued or running; make sure its compute ends
        (kill it) before jobs writes ``cancelled``. A run whose worker dies reads
        ``failed: interrupted`` through the pid recorded in status.json.
    ensure_started(store, warm=False): cheap, called by every submit, the queue view and
        (warm=True) the server on each page run: make sure queued runs will be served (start
        workers if none are alive); warm: also have one ready before the first run.
    """

    name: str

    def launch(self, store: RunStore, run_id: str) -> dict[str, Any]: ...

    def stop(self, store: RunStore, run_id: str, status: Mapping[str, Any]) -> None: ...

    def ensure_started(self, store: RunStore, warm: bool = False) -> None: ...


_cache: dict[str, Executor] = {}


def executor_name() -> str:
    name = os.environ.get("GRADLAB_EXECUTOR", "").strip().lower() or "local"
    if name not in EXECUTORS:
        raise UserError(f"GRADLAB_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {name!r}")
    return name


def get_executor(name: str | None = None) -> Executor:
    """The executor named (or GRADLAB_EXECUTOR's); one instance per process and name."""
    name = name or executor_name()
    if name not in _cache:
        if name not in EXECUTORS:
            raise UserError(f"this run was queued by an unknown executor {name!r}")
        module_name, cls = EXECUTORS[name].split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise UserError(
                f"the {name} executor is not available ({exc}): install it "
                f"(pip install -r requirements-{name}.txt) or unset GRADLAB_EXECUTOR"
            ) from None
        _cache[name] = getattr(module, cls)()
    return _cache[name]
