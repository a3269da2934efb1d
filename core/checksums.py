"""sha256 of run artifacts: a run is a cache hit only while every recorded digest matches."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# (path, size, mtime_ns, digest) of files that matched: the Runs page lists every run on
# every rerun, and hashing each model.keras each time grows with the store.
_MATCHED: set[tuple[str, int, int, str]] = set()


def matches(path: Path, digest: Any, *, memo: bool = False) -> bool:
    """Does path still hash to digest? memo=True trusts an unchanged size+mtime seen matching."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    key = (str(path), st.st_size, st.st_mtime_ns, str(digest))
    if memo and key in _MATCHED:
        return True
    ok = sha256_file(path) == digest
    if ok:
        _MATCHED.add(key)
    return ok
