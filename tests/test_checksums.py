"""Checksums: listings may trust an unchanged file; a changed one is always re-hashed."""

import hashlib
import os

from core import checksums


def test_memo_skips_unchanged_files_and_catches_changed_ones(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    path.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    calls = []
    real = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file", lambda p: calls.append(p) or real(p))

    assert checksums.matches(path, digest, memo=True)
    assert checksums.matches(path, digest, memo=True)
    assert len(calls) == 1  # the second listing trusted the unchanged size and mtime
    assert checksums.matches(path, digest)  # without memo: hashed again
    assert len(calls) == 2

    path.write_bytes(b"weightz")  # same size, new content and mtime
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert not checksums.matches(path, digest, memo=True)
    assert not checksums.matches(tmp_path / "missing", digest, memo=True)
