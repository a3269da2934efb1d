"""Taking runs out of the store: delete, LRU eviction under a disk budget, temp-file sweeps.

Every removal of a run happens under the same per-run lock a submission holds
(RunStore.lock), with the state checked again inside it, so a resubmission that replaced a
finished run with a queued one is never thrown away. Eviction never touches a run that is
queued or training, a run whose lock someone holds (being submitted or trained in the
foreground), or a run written in the last RECENT_S seconds (a worker's fresh result).
Price files under _data/ and Yahoo downloads under _yahoo/ count toward the budget too:
_data files no run refers to are pruned, _yahoo files go before any run does.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import filelock

from core import owners
from core.atomic import TMP_PREFIX, temp_name
from core.config import RunSpec
from core.errors import UserError
from core.models import param_count
from core.procs import orphaned
from core.records import ACTIVE

if TYPE_CHECKING:
    from core.runs import RunStore

DEFAULT_BUDGET_BYTES = 2 * 1024**3
RECENT_S = 600.0  # a run written in the last ten minutes is never evicted
BUSY_WAIT_S = 10.0  # how long delete waits for a submission holding the run's lock


# ---- the budget ----------------------------------------------------------------------


def budget_from_env() -> int:
    """GRADLAB_CACHE_BUDGET_MB in bytes; anything but a positive number is a UserError."""
    raw = os.environ.get("GRADLAB_CACHE_BUDGET_MB", "").strip()
    if not raw:
        return DEFAULT_BUDGET_BYTES
    try:
        mb = float(raw)
    except ValueError:
        mb = math.nan
    if not math.isfinite(mb) or mb <= 0:
        raise UserError(
            f"GRADLAB_CACHE_BUDGET_MB must be a positive number of megabytes (e.g. 2048), "
            f"got {raw!r}: fix or unset it and start again"
        )
    return int(mb * 1024**2)


def estimated_run_bytes(spec: RunSpec) -> int:
    """Disk one finished run of spec takes, roughly: the model with its optimizer state
    (weights, Adam's two moments: 12 bytes a parameter) plus ~0.5 MB of metrics and tables."""
    inputs = 4 * len(spec.data.features)  # ohlc is four columns: the most
    return 12 * param_count(spec.model, inputs) + 512 * 1024


def check_fits(spec: RunSpec) -> None:
    """Refuse, before anything is written, a run that alone exceeds the disk budget."""
    need, budget = estimated_run_bytes(spec), budget_from_env()
    if need > budget:
        raise UserError(
            f"this run takes about {need / 2**20:.0f} MB on disk, more than the whole store "
            f"budget GRADLAB_CACHE_BUDGET_MB={budget / 2**20:g}: raise the budget to at least "
            f"{math.ceil(need / 2**20)} or choose fewer layers/units"
        )


# ---- removal -------------------------------------------------------------------------


def discard(store: RunStore, d: Path) -> None:
    """Rename first so the run vanishes at once; the slow rmtree works on a private name."""
    trash = store.root / "_trash"
    trash.mkdir(exist_ok=True)
    target = temp_name(trash / d.name)
    os.rename(d, target)
    shutil.rmtree(target, ignore_errors=True)


def delete(store: RunStore, run_id: str) -> None:
    """Remove a finished run, under its lock: never a run a submission just re-queued."""
    try:
        with store.lock(run_id, timeout=BUSY_WAIT_S):
            d = store.run_dir(run_id)
            if not d.exists():
                raise UserError(f"there is no run {run_id}: pick one from `runs list`")
            owners.check_current(run_id, store.owner(run_id))
            if store.status(run_id).get("state") in ACTIVE:
                raise UserError(f"run {run_id} is still queued or training: cancel it first")
            discard(store, d)
    except filelock.Timeout:
        raise UserError(
            f"run {run_id} is being submitted or trained right now: try again in a moment"
        ) from None


@contextlib.contextmanager
def _held(store: RunStore, run_id: str) -> Iterator[bool]:
    """The run's lock if free at once (True), else False: eviction never waits on anyone."""
    lock = store.lock(run_id, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _evictable(store: RunStore, run_id: str, now: float) -> bool:
    try:
        recent = now - (store.root / run_id).stat().st_mtime < RECENT_S
    except FileNotFoundError:
        return False
    return not recent and store.status(run_id).get("state") not in ACTIVE


def evict(store: RunStore, budget_bytes: int | None = None) -> list[str]:
    """Delete least recently used finished runs until the store fits the budget.

    Unreferenced price files go first, then Yahoo downloads, then runs; returns the run ids
    removed. A store still over budget afterwards holds only protected runs.
    """
    budget = budget_from_env() if budget_bytes is None else budget_bytes
    now = time.time()
    sizes = {rid: dir_size(store.root / rid) for rid in store.run_ids()}
    total = sum(sizes.values())
    total += sum(f.stat().st_size for f in _files(store.root / "_data"))
    total -= _prune_files(_unreferenced_prices(store, now), budget=None)
    total += sum(f.stat().st_size for f in _files(store.root / "_yahoo"))
    if total > budget:
        total -= _prune_files(_old_files(store.root / "_yahoo", now), total - budget)
    by_age = []
    for rid in sizes:
        with contextlib.suppress(FileNotFoundError):
            by_age.append(((store.root / rid).stat().st_mtime, rid))
    evicted = []
    for _, rid in sorted(by_age):
        if total <= budget:
            break
        with _held(store, rid) as mine:
            if mine and _evictable(store, rid, now):
                with contextlib.suppress(FileNotFoundError):
                    discard(store, store.root / rid)
                    total -= sizes[rid]
                    evicted.append(rid)
    return evicted


def _files(d: Path) -> list[Path]:
    if not d.is_dir():
        return []
    return [p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")]


def _old_files(d: Path, now: float) -> list[Path]:
    """Files of d not written in the last RECENT_S seconds, least recently used first."""
    aged = []
    for path in _files(d):
        with contextlib.suppress(FileNotFoundError):
            mtime = path.stat().st_mtime
            if now - mtime >= RECENT_S:
                aged.append((mtime, path))
    return [path for _, path in sorted(aged)]


def _unreferenced_prices(store: RunStore, now: float) -> list[Path]:
    """_data/ files no run's spec.json names (a recent one may belong to a submission)."""
    used = set()
    for rid in store.run_ids():
        with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
            used.add(json.loads((store.root / rid / "spec.json").read_text())["data_fingerprint"])
    return [p for p in _old_files(store.root / "_data", now) if p.stem not in used]


def _prune_files(paths: list[Path], budget: int | None) -> int:
    """Remove paths in order (all of them, or until `budget` bytes are freed); bytes freed."""
    freed = 0
    for path in paths:
        if budget is not None and freed >= budget:
            break
        with contextlib.suppress(FileNotFoundError):
            size = path.stat().st_size
            path.unlink()
            freed += size
    return freed


def dir_size(d: Path) -> int:
    total = 0
    for path in d.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file():
                total += path.stat().st_size
    return total


def clean_tmp(store: RunStore, min_age_s: float = 3600.0) -> int:
    """Remove temp files left by killed writers (their pid is gone, or they are old)."""
    removed = 0
    dirs = [store.root / rid for rid in store.run_ids()]
    subs = ("_data", "_trash", "_workers")  # _workers: the warm workers' registry entries
    dirs += [store.root / sub for sub in subs if (store.root / sub).exists()]
    for d in dirs:
        for path in [*d.glob(f"{TMP_PREFIX}*"), *d.glob(".*.tmp.keras")]:
            if not orphaned(path, min_age_s):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed
