"""Faults: kill -9 real workers at random moments, a full disk, runs edited by hand.

After every kill a fresh RunStore (what a restarted server sees) must read the run as
failed: interrupted, or as complete with every checksum matching; never as complete while
broken. Temp files the killed writer left must not survive the next worker start, and the
same spec must train to done when it is submitted again.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import cli, data, jobs, worker
from core.atomic import TMP_PREFIX
from core.checksums import sha256_file
from core.executor import get_executor
from core.runs import CHECKED, INTERRUPTED, RunStore
from tests.fakes import make_run

KILLS = 20
PAGES = Path(__file__).resolve().parents[2] / "pages"


def _really_complete(store: RunStore, rid: str) -> bool:
    """is_complete, recomputed here from the files: status done and every checksum matching."""
    d = store.run_dir(rid)
    status = json.loads((d / "status.json").read_text())
    summary = json.loads((d / "summary.json").read_text())
    sums = summary["checksums"]
    return (
        status["state"] == "done"
        and "model.keras" in sums
        and all(n in CHECKED and sha256_file(d / n) == h for n, h in sums.items())
    )


def _kill_at(phase: str, store: RunStore, rid: str, rng: random.Random, kit) -> None:
    """Wait for the moment the phase names, then SIGKILL the worker's process group."""
    d = store.run_dir(rid)
    # A queued run has no process of its own (it waits in the store for a warm worker);
    # the crash that matters is its worker's, so every phase starts from the claim that
    # records that worker's pid. (Waiting on files alone raced it: the claim's own status
    # write leaves a .tmp-*-status.json for a moment, before the pid is readable.)
    kit.wait_for(lambda: "pid" in store.status(rid) or _ended(store, rid), 180, "a worker")
    if phase == "early":  # anywhere from the claim to the first epoch
        time.sleep(rng.uniform(0.0, 3.0))
    elif phase == "mid":  # between epochs or inside one: metrics.jsonl has begun
        kit.wait_for(lambda: (d / "metrics.jsonl").exists() or _ended(store, rid), 180, "epoch 1")
        time.sleep(rng.uniform(0.0, 0.6))
    else:  # artifacts: predictions, model and summary are being written
        kit.wait_for(lambda: _artifacts_begun(d) or _ended(store, rid), 180, "the artifacts")
    st = store.status(rid)
    pid = st.get("pid")
    assert isinstance(pid, int) or st["state"] not in ("queued", "running"), st
    if isinstance(pid, int):
        with contextlib.suppress(ProcessLookupError):  # it may have finished on its own
            os.killpg(pid, signal.SIGKILL)
    kit.wait_for(lambda: _reaped(pid), 30, "the killed worker to exit")


def _artifacts_begun(d: Path) -> bool:
    """An end-of-run artifact, or an atomic writer's temp for one (not status.json's)."""
    names = ("predictions.parquet", "model.keras", "summary.json")
    temps = (p for name in names for p in d.glob(f"{TMP_PREFIX}*-{name}"))
    return (d / "predictions.parquet").exists() or next(temps, None) is not None


def _ended(store: RunStore, rid: str) -> bool:
    return store.status(rid).get("state") not in ("queued", "running")


def _reaped(pid) -> bool:
    local = get_executor("local")
    local.reap()
    return not any(p.pid == pid for _, p in local.children)


@pytest.mark.slow
def test_kill_minus_nine_at_random_moments(store_root, kit, figures):
    prices = data.load_prices("sample", "^GSPC", start=kit.TINY_RANGE[0], end=kit.TINY_RANGE[1])
    spec = kit.tiny_spec(epochs=3)
    rng = random.Random(20240607)
    phases = ["early"] * 10 + ["mid"] * 6 + ["artifacts"] * 4
    rng.shuffle(phases)
    outcomes: Counter[str] = Counter()
    temp_seen = 0
    for phase in phases:
        sub = jobs.submit(spec, prices, RunStore(store_root))
        assert not sub.cached and sub.state == "queued"
        _kill_at(phase, RunStore(store_root), sub.run_id, rng, kit)
        fresh = RunStore(store_root)  # a restarted server: nothing remembered in memory
        rid = sub.run_id
        if fresh.is_complete(rid):
            assert _really_complete(fresh, rid)
            outcomes[f"{phase}: finished before the kill"] += 1
            fresh.delete(rid)  # so the next round trains (and is killed) again
        else:
            st = fresh.status(rid)
            assert st["state"] == "failed" and st["error"] == INTERRUPTED, st
            assert jobs.queue(fresh) == []
            row = next(r for r in fresh.list_runs() if r["run_id"] == rid)
            assert row["state"] == "failed" and row["rmse"] is None
            outcomes[f"{phase}: interrupted"] += 1
        temp_seen += len(kit.temp_files(store_root))
        fresh.clean_tmp()  # what the next worker does first
        assert kit.temp_files(store_root) == []
    final = jobs.submit(spec, prices, RunStore(store_root))
    store = RunStore(store_root)
    kit.wait_for(lambda: _ended(store, final.run_id), 240, "the resubmitted run")
    assert store.status(final.run_id)["state"] == "done", store.status(final.run_id)
    assert store.is_complete(final.run_id) and _really_complete(store, final.run_id)
    assert [r["epoch"] for r in store.metrics(final.run_id)] == [1, 2, 3]
    assert kit.temp_files(store_root) == []

    figures["faults.kills"] = len(phases)
    figures["faults.temp_files_left_by_kills"] = temp_seen
    for key, n in sorted(outcomes.items()):
        figures[f"faults.outcome.{key}"] = n
    print(f"faults: {len(phases)} kills -> {dict(outcomes)}; temp files left {temp_seen}")


@pytest.mark.slow
def test_full_disk_fails_the_run_with_a_clear_message(store_root, monkeypatch, kit):
    prices = data.load_prices("sample", "^GSPC", start=kit.TINY_RANGE[0], end=kit.TINY_RANGE[1])
    spec = kit.tiny_spec(epochs=1)
    store = RunStore(store_root)
    rid = store.create(spec, store.save_prices(prices))
    real_replace = os.replace

    def full_disk(src, dst, *args, **kwargs):
        if Path(dst).name == "predictions.parquet":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    worker.execute(store, rid)  # in-process: TensorFlow loads here
    st = store.status(rid)
    assert st["state"] == "failed", st
    assert "disk is full" in st["error"] and "internal error" not in st["error"], st
    assert not store.is_complete(rid) and store.summary(rid) is None
    assert kit.temp_files(store_root) == []  # the failed write cleaned its temp file


def _damage(root: Path, rid: str, how: str) -> None:
    d = root / rid
    if how == "truncated metrics.jsonl":
        raw = (d / "metrics.jsonl").read_bytes()
        (d / "metrics.jsonl").write_bytes(raw[: len(raw) // 2])
    elif how == "missing summary.json":
        (d / "summary.json").unlink()
    elif how == "bad JSON in status.json":
        (d / "status.json").write_text('{"state": "done", "epoch": ')
    elif how == "status.json not an object":
        (d / "status.json").write_text("[1, 2, 3]")
    elif how == "bad JSON in spec.json":
        (d / "spec.json").write_text("{spec")
    elif how == "bad JSON in summary.json":
        (d / "summary.json").write_text("{")
    elif how == "missing model.keras":
        (d / "model.keras").unlink()
    elif how == "empty predictions.parquet":
        (d / "predictions.parquet").write_bytes(b"")


DAMAGE = [
    "truncated metrics.jsonl",
    "missing summary.json",
    "bad JSON in status.json",
    "status.json not an object",
    "bad JSON in spec.json",
    "bad JSON in summary.json",
    "missing model.keras",
    "empty predictions.parquet",
]


def test_hand_edited_runs_are_damaged_not_crashes(store_root, capsys, figures):
    ids = {how: make_run(store_root, cell="gru", seed=i) for i, how in enumerate(DAMAGE)}
    healthy = make_run(store_root, cell="lstm", seed=99)
    for how, rid in ids.items():
        _damage(store_root, rid, how)
    rows = {r["run_id"]: r for r in RunStore(store_root).list_runs()}
    for how, rid in ids.items():
        assert rows[rid]["damaged"], how
        assert not RunStore(store_root).is_complete(rid), how
    assert not rows[healthy]["damaged"]

    for how, rid in ids.items():
        at = AppTest.from_file(str(PAGES / "results.py"), default_timeout=60)
        at.query_params["run"] = rid
        at.run()
        assert not at.exception, (how, at.exception)
        shown = [e.value for e in at.error] + [w.value for w in at.warning]
        assert any("damaged" in s or "could not be read" in s or "failed" in s for s in shown), (
            how,
            shown,
        )
    runs_page = AppTest.from_file(str(PAGES / "runs.py"), default_timeout=60).run()
    assert not runs_page.exception
    states = runs_page.dataframe[0].value.set_index("id")["state"]
    assert all(states[rid] == "damaged" for rid in ids.values())

    assert cli.main(["runs", "list", "--json"]) == 0
    for rid in ids.values():
        assert cli.main(["runs", "show", rid, "--json"]) == 0
    assert "internal error" not in capsys.readouterr().err
    figures["faults.hand_edited_cases"] = len(DAMAGE)
