"""A run store that cannot be written (read-only, no permission, a full disk) is a UserError.

Submission writes into the store (its lock, the prices, the run folder, the status); when the
disk refuses, the person submitting gets one sentence saying what to do, in the UI and on the
CLI alike, instead of an internal error, and a pure cache hit gets the same sentence when the
store is too read-only even to take its lock.
"""

from __future__ import annotations

import errno
import functools
import importlib.metadata
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import filelock
import numpy as np

from core.errors import UserError

READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
FULL = (errno.ENOSPC, errno.EDQUOT)
F = TypeVar("F", bound=Callable[..., Any])


class StoreUnwritable(UserError):
    """The run store's disk refused a write (read-only, permission, full)."""


def unwritable(exc: OSError, root: Path) -> OSError | StoreUnwritable:
    """The UserError for a refused write, or exc itself when it is something else."""
    if exc.errno in READ_ONLY:
        return StoreUnwritable(
            f"the run store {root} is read-only or not writable by this user: make it "
            "writable, or set MODELS_CACHE to a writable folder, and submit again"
        )
    if exc.errno in FULL:
        return StoreUnwritable(
            f"the disk holding the run store {root} is full: free disk space or set "
            "GRADLAB_CACHE_BUDGET_MB lower so old runs are evicted, and submit again"
        )
    return exc


def clear_os_errors(method: F) -> F:
    """Wrap a RunStore method: a refused write becomes StoreUnwritable."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except OSError as exc:
            raise unwritable(exc, self.root) from None

    return wrapper  # type: ignore[return-value]


class StoreLock(filelock.FileLock):
    """filelock.FileLock whose acquire says so, in words, when the store cannot be written."""

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().acquire(*args, **kwargs)
        except OSError as exc:
            raise unwritable(exc, Path(self.lock_file).parent.parent) from None


@functools.cache
def _versions() -> dict[str, str | None]:
    # importlib.metadata: recording the TensorFlow version must not import TensorFlow. Read
    # once per process: four metadata lookups took 12-45 ms of every submit (a Train click).
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("numpy", "pandas", "tensorflow", "keras"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def versions() -> dict[str, str | None]:
    """The versions a run records in spec.json (a copy: callers may add to it)."""
    return dict(_versions())


def json_default(obj: Any) -> Any:
    # numpy scalars and arrays from training/evaluation: store plain JSON numbers.
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if (pd := sys.modules.get("pandas")) and isinstance(obj, pd.Timestamp):  # else none exist
        return obj.isoformat()
    raise TypeError(f"cannot store {type(obj).__name__} in JSON")
