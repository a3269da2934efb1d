"""The run store: models_cache/<run_id>/ is the only interface between the UI and compute.

Every file is written to a temp name in the same directory and ``os.replace``d, so a reader
sees the old file or the new one, never half of one. metrics.jsonl is the one append-only
file; its reader drops a truncated last line left by a killed writer. No pickle anywhere:
probe.npz is read with ``allow_pickle=False`` and model.keras is never opened here.

Reads need numpy/json only, so the Streamlit server lists runs and the queue cheaply; pandas
is imported by the parquet reads alone (prices, predictions), keeping the first page light.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import filelock
import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from core import atomic, owners, store_gc, store_rows
from core.atomic import TMP_PREFIX  # noqa: F401 (re-exported: tests name temp files by it)
from core.checksums import matches, sha256_file
from core.config import HEX64_RE, RUN_ID_RE, RunSpec, check_run_id, run_id
from core.errors import DataError
from core.procs import process_alive, process_identity, worker_alive  # noqa: F401 (re-exported)
from core.records import ListingRow, MetricsRow, Status, Summary
from core.store_io import StoreLock, clear_os_errors, json_default, versions
from core.store_rows import (
    ACTIVE,
    clean_gtt,
    clean_metric_row,
    clean_status,
    clean_summary,
    spec_of,
)

# Artifacts whose sha256 summary.json records: a corrupted one means "not a cache hit".
CHECKED = (
    "spec.json",
    "metrics.jsonl",
    "gradients_through_time.json",
    "probe.npz",
    "predictions.parquet",
    "model.keras",
)
PREDICTION_COLUMNS = ("date", "split", "actual_price", "predicted_price")
TASK_PREDICTION_COLUMNS = ("sample", "split", "actual", "predicted")  # a memory task's frame
INTERRUPTED = "interrupted: the worker process ended without finishing"
# A queued run whose submitter has not yet recorded the worker pid; after this it is stale.
PID_GRACE_S = 60.0


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())


class RunStore:
    """models_cache/: one directory per run, prices once per fingerprint under _data/."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root or os.environ.get("MODELS_CACHE") or "models_cache").resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    # ---- paths and atomic writes -------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        return self.root / check_run_id(run_id)

    def _sub(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def atomic_path(self, target: Path) -> contextlib.AbstractContextManager[Path]:
        """Yield a temp path beside target (same suffix, e.g. .keras); replace target on success."""
        return atomic.atomic_path(target)

    def _write_bytes(self, target: Path, data: bytes) -> None:
        atomic.write_bytes(target, data)

    def write_json(self, run_id: str, name: str, obj: Any) -> None:
        text = json.dumps(obj, indent=1, sort_keys=True, allow_nan=True, default=json_default)
        self._write_bytes(self.run_dir(run_id) / name, text.encode())

    def read_json(self, run_id: str, name: str) -> Any:
        """The parsed file, or None if it is missing. Bad JSON or an unreadable file (no
        permission, a folder in its place) raises ValueError: callers handle one exception."""
        try:
            return json.loads((self.run_dir(run_id) / name).read_text())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValueError(f"{name} cannot be read ({exc.strerror})") from None

    # ---- prices ------------------------------------------------------------------------

    @clear_os_errors
    def save_prices(self, df: pd.DataFrame, fp: str | None = None) -> str:
        """Store the price rows a run uses, once per fingerprint; returns the fingerprint."""
        if fp is None:
            from core import data  # lazy: data pulls in its own loaders

            fp = data.fingerprint(df)
        target = self._sub("_data") / f"{fp}.parquet"
        if not target.exists():
            frame = df.copy()
            frame.attrs = {k: v for k, v in df.attrs.items() if k in ("source", "ticker")}
            with self.atomic_path(target) as tmp:
                frame.to_parquet(tmp)
        else:
            os.utime(target)  # in use again: keep it from being pruned
        return fp

    def load_prices(self, fp: str) -> pd.DataFrame:
        if not isinstance(fp, str) or not HEX64_RE.match(fp):
            raise DataError(f"{fp!r} is not a data fingerprint: resubmit the run")
        path = self.root / "_data" / f"{fp}.parquet"
        if not path.exists():
            raise DataError("the prices of this run are no longer in the store: submit it again")
        import pandas as pd  # lazy, as in predictions()

        return pd.read_parquet(path)

    # ---- lifecycle ---------------------------------------------------------------------

    @clear_os_errors
    def lock(self, run_id: str, timeout: float = -1) -> filelock.FileLock:
        """Cross-process lock for deciding what happens to one run (submit, foreground train)."""
        check_run_id(run_id)
        return StoreLock(str(self._sub("_locks") / f"{run_id}.lock"), timeout=timeout)

    @clear_os_errors
    def create(self, spec: RunSpec, fp: str, pid: int | None = None) -> str:
        """A fresh run directory (a previous failed attempt is discarded) with status queued."""
        store_gc.check_fits(spec)  # a run bigger than the whole budget would evict itself
        rid = run_id(spec, fp)
        final = self.run_dir(rid)
        if final.exists():
            self._discard(final)
        staging = atomic.temp_name(self._sub("_trash") / rid)
        staging.mkdir()
        record = {
            "spec": spec.to_dict(),
            "data_fingerprint": fp,
            "run_id": rid,
            "versions": versions(),
            "created": now_iso(),
            "owner": owners.current(),  # the signed-in user when login is on, else None
        }
        (staging / "spec.json").write_text(json.dumps(record, indent=1, sort_keys=True))
        status: dict[str, Any] = {"state": "queued", "epoch": 0, "epochs": spec.train.epochs}
        status.update({"queued_at": time.time(), "error": None})
        if pid is not None:
            status.update(process_identity(pid))
        (staging / "status.json").write_text(json.dumps(status, indent=1, sort_keys=True))
        os.rename(staging, final)  # the run appears whole or not at all
        return rid

    def spec(self, run_id: str) -> RunSpec:
        """The run's settings; a damaged spec.json is a UserError saying what to do."""
        try:
            record = self.read_json(run_id, "spec.json")
        except ValueError:
            record = None
        return spec_of(record, run_id)

    def record(self, run_id: str) -> dict[str, Any]:
        """spec.json with its spec checked and versions a dict; damaged: a UserError."""
        try:
            raw = self.read_json(run_id, "spec.json")
        except ValueError:
            raw = None
        spec = spec_of(raw, run_id)
        record = {**raw, "spec": spec.to_dict()}
        if not isinstance(record.get("versions"), dict):
            record["versions"] = {}
        return record

    @clear_os_errors
    def owner(self, run_id: str) -> str | None:
        """Who submitted the run (login on), else None."""
        try:
            record = self.read_json(run_id, "spec.json")
        except ValueError:
            return None
        owner = record.get("owner") if isinstance(record, dict) else None
        return owner if isinstance(owner, str) else None

    def write_status(self, run_id: str, **fields: Any) -> dict[str, Any]:
        """Merge fields into status.json; a per-run lock keeps writers from losing updates."""
        lock_path = self._sub("_locks") / f"{check_run_id(run_id)}.status.lock"
        with filelock.FileLock(str(lock_path), timeout=30):
            try:
                current = self.read_json(run_id, "status.json") or {}
            except ValueError:
                current = {}
            current.update(fields)
            current["updated"] = now_iso()
            self.write_json(run_id, "status.json", current)
        return current

    def stamp(self, run_id: str) -> tuple[int | None, int | None]:
        """(status.json's mtime in ns, metrics.jsonl's size): changes whenever the worker
        writes; two stat calls, for a live view that watches a run many times a second."""
        out: list[int | None] = []
        for name, field in (("status.json", "st_mtime_ns"), ("metrics.jsonl", "st_size")):
            try:
                out.append(getattr((self.run_dir(run_id) / name).stat(), field))
            except OSError:  # not written yet, or removed meanwhile
                out.append(None)
        return out[0], out[1]

    def status(self, run_id: str) -> Status:
        """status.json, with a queued/running run whose process is gone read as failed."""
        try:
            st = clean_status(self.read_json(run_id, "status.json"))
        except ValueError:
            st = clean_status(None)
        if st.get("state") in ACTIVE and not self._alive(st):
            damaged = str(st.get("error")).startswith("damaged")
            st = cast(
                Status, {**st, "state": "failed", "error": st["error"] if damaged else INTERRUPTED}
            )
        return st

    def _alive(self, st: Status) -> bool:
        if "pid" not in st:  # submitter has not recorded the worker yet
            if st.get("state") == "queued" and st.get("executor"):
                return True  # waits in the store for its executor, no process owns it yet
            queued_at = st.get("queued_at")
            return isinstance(queued_at, (int, float)) and time.time() - queued_at < PID_GRACE_S
        return worker_alive(st)

    # ---- per-epoch artifacts -----------------------------------------------------------

    def append_metrics(self, run_id: str, row: dict[str, Any]) -> None:
        path = self.run_dir(run_id) / "metrics.jsonl"
        line = json.dumps(row, sort_keys=True, allow_nan=True, default=json_default) + "\n"
        with open(path, "a+b") as f:
            # A killed writer may have left a partial line: start ours on a fresh one.
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())

    def metrics(self, run_id: str) -> list[MetricsRow]:
        path = self.run_dir(run_id) / "metrics.jsonl"
        try:
            text = path.read_text(errors="replace")
        except OSError:  # missing, or unreadable: no epochs to show
            return []
        rows = []
        for line in text.splitlines():
            try:
                row = clean_metric_row(json.loads(line))
            except ValueError:
                continue  # truncated line from a killed writer
            if row is not None:
                rows.append(row)
        return rows

    def write_probe(self, run_id: str, x: np.ndarray, y: np.ndarray) -> None:
        # A file object, not a name: np.savez would append .npz to the temp name.
        with self.atomic_path(self.run_dir(run_id) / "probe.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, x=np.asarray(x), y=np.asarray(y))

    def probe(self, run_id: str) -> dict[str, np.ndarray] | None:
        path = self.run_dir(run_id) / "probe.npz"
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # missing or not an npz
            return None

    def gradients_through_time(self, run_id: str) -> dict[str, Any] | None:
        """The per-lag gradient norms; missing: None; damaged or the wrong shape: DataError."""
        try:
            raw = self.read_json(run_id, "gradients_through_time.json")
        except ValueError:
            raw = False  # unreadable: reported below like a wrong shape
        gtt = clean_gtt(raw)
        if gtt is None and raw is not None:
            raise _damaged(run_id, "gradients_through_time.json")
        return gtt

    def write_predictions(self, run_id: str, frame: pd.DataFrame) -> None:
        with self.atomic_path(self.run_dir(run_id) / "predictions.parquet") as tmp:
            frame.to_parquet(tmp, index=False)

    def predictions(self, run_id: str) -> pd.DataFrame | None:
        import pandas as pd  # lazy: 0.4-1.3 s that listing runs and the queue never need

        path = self.run_dir(run_id) / "predictions.parquet"
        if not path.exists():
            return None
        try:
            frame = pd.read_parquet(path)
        except Exception:  # unreadable or not parquet (pyarrow raises its own types)
            raise _damaged(run_id, "predictions.parquet") from None
        cols = set(frame.columns)
        if not (set(PREDICTION_COLUMNS) <= cols or set(TASK_PREDICTION_COLUMNS) <= cols):
            raise _damaged(run_id, "predictions.parquet")
        return frame

    def model_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "model.keras"

    # ---- completion --------------------------------------------------------------------

    def write_summary(self, run_id: str, summary: dict[str, Any]) -> dict[str, Any]:
        """summary.json, written last, with sha256 of every artifact present."""
        d = self.run_dir(run_id)
        checksums = {n: sha256_file(d / n) for n in CHECKED if (d / n).exists()}
        summary = {**summary, "checksums": checksums}
        self.write_json(run_id, "summary.json", summary)
        return summary

    def summary(self, run_id: str) -> Summary | None:
        try:
            return clean_summary(self.read_json(run_id, "summary.json"))
        except ValueError:
            return None

    def is_complete(self, run_id: str, *, memo: bool = False) -> bool:
        """A cache hit: summary present, status done, every recorded checksum still matching.

        memo=True (listings) skips re-hashing a file whose size and mtime are unchanged since
        it last matched; a cache-hit decision always hashes every artifact afresh.
        """
        d = self.run_dir(run_id)
        summary = self.summary(run_id)
        if summary is None or self.status(run_id).get("state") != "done":
            return False
        checksums = summary.get("checksums")
        if not isinstance(checksums, dict) or "model.keras" not in checksums:
            return False
        try:
            return all(
                name in CHECKED and isinstance(digest, str) and matches(d / name, digest, memo=memo)
                for name, digest in checksums.items()
            )
        except OSError:  # an artifact replaced by a folder, or unreadable: not a cache hit
            return False

    def touch(self, run_id: str) -> None:
        """Mark a run as used now: eviction removes the least recently used first (a
        read-only store keeps its old times: reading a run must not fail for that)."""
        with contextlib.suppress(OSError):
            os.utime(self.run_dir(run_id))

    # ---- listing, deletion, eviction ---------------------------------------------------

    def run_ids(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if RUN_ID_RE.match(p.name) and p.is_dir())

    def list_runs(self) -> list[ListingRow]:
        """One row per run, newest first; hand-edited or half-written runs are flagged damaged."""
        rows = [self._row(rid) for rid in self.run_ids()]
        return sorted(rows, key=lambda r: r["created"] or "", reverse=True)

    def _row(self, rid: str) -> ListingRow:
        return store_rows.row(self, rid)

    def delete(self, run_id: str) -> None:
        """Remove a finished run under its lock (core.store_gc)."""
        store_gc.delete(self, run_id)

    def _discard(self, d: Path) -> None:
        store_gc.discard(self, d)

    def evict(self, budget_bytes: int | None = None) -> list[str]:
        """Delete least recently used finished runs until the store fits (core.store_gc)."""
        return store_gc.evict(self, budget_bytes)

    def clean_tmp(self, min_age_s: float = 3600.0) -> int:
        """Remove temp files left by killed writers (their pid is gone, or they are old)."""
        return store_gc.clean_tmp(self, min_age_s)


budget_from_env = store_gc.budget_from_env
_dir_size = store_gc.dir_size


def _damaged(run_id: str, name: str) -> DataError:
    return DataError(f"{name} of run {run_id} is damaged: delete the run and train it again")
