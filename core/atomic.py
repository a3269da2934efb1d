"""The one atomic writer: a temp file beside the target, then os.replace.

A reader (a page, another worker) sees the old file or the new one, never half of one, and a
crash leaves at most a temp file, named ``.tmp-<pid>-<random>-<name>`` so that the run
store's cleanup (core.procs.orphaned) can tell whether its writer is still alive. The temp
keeps the target's name at its end, so its suffix (.keras, .parquet) is the target's: some
writers choose the format from it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

TMP_PREFIX = ".tmp-"  # every temp file starts with this; the store's cleanup sweeps orphans


def temp_name(target: Path) -> Path:
    """A fresh temp path beside target, for this process."""
    return target.parent / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{target.name}"


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside target; replace target with it on success, remove it always."""
    tmp = temp_name(target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(target: Path, data: bytes) -> None:
    """target's new content, flushed to disk before it replaces the old one."""
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text(target: Path, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))
