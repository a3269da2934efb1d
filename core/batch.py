"""Submit several runs through core.jobs (any executor) and wait until each has finished.

Used where a command needs many runs done before it can answer (`compare` on Ray, Compare's
"re-run the best settings over seeds"): the runs are ordinary queued runs, cached ones answer
at once, and the queue limit (GRADLAB_MAX_QUEUE) is respected by waiting for room.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from core import jobs
from core.config import RunSpec
from core.runs import ACTIVE, RunStore


def submit_all(
    store: RunStore,
    specs: list[tuple[RunSpec, Any]],
    log: Callable[[str], None],
    poll_s: float = 1.0,
) -> list[str]:
    """Queue every (spec, prices), waiting for room in the queue; their run ids in order."""
    rids = []
    for spec, prices in specs:
        while len(jobs.queue(store)) >= jobs.max_queue():
            time.sleep(poll_s)
        sub = jobs.submit(spec, prices, store)
        log(f"run {sub.run_id} ({spec.model.cell}, seed {spec.train.seed}): "
            + ("cached" if sub.cached else sub.state))  # fmt: skip
        rids.append(sub.run_id)
    return rids


def wait(store: RunStore, rids: list[str], poll_s: float = 1.0) -> dict[str, str]:
    """Block until no run in rids is queued or running; returns run id -> final state."""
    while True:
        jobs.queue(store)  # lets the executor notice tasks that died (and keeps it moving)
        states = {r: str(store.status(r).get("state")) for r in rids}
        if not any(s in ACTIVE for s in states.values()):
            return states
        time.sleep(poll_s)
