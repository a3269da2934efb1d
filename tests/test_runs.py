"""Run store: atomic files, tolerant reads, stale-run detection, checksums, LRU eviction."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from core.config import RunSpec
from core.errors import SpecError, UserError
from core.runs import INTERRUPTED, TMP_PREFIX, RunStore, process_identity

FP = "ab" * 32


def _spec(seed: int = 0) -> RunSpec:
    return RunSpec().replace(seed=seed, epochs=2, units=4, lookback=5)


def _finished(store: RunStore, seed: int, size: int = 1000, state: str = "done") -> str:
    """A run that looks like a finished worker's output (model bytes stand in for keras)."""
    rid = store.create(_spec(seed), FP)
    store.append_metrics(rid, {"epoch": 1, "loss": 0.5})
    store.write_predictions(rid, pd.DataFrame({"date": pd.to_datetime(["2020-01-02"]), "x": [1.0]}))
    store.model_path(rid).write_bytes(os.urandom(size))
    store.write_summary(rid, {"metrics": {"rmse": 1.5, "skill": 0.1}, "train_seconds": 2.0})
    store.write_status(rid, state=state)
    return rid


def _age(store: RunStore, rid: str, seconds: float) -> None:
    """Make a run look last used `seconds` ago (eviction spares recent runs)."""
    then = time.time() - seconds
    os.utime(store.run_dir(rid), (then, then))


def _no_temp_files(root) -> bool:
    return not [p for p in root.rglob(f"{TMP_PREFIX}*")]


def test_create_writes_spec_and_status(store_root):
    store = RunStore()
    assert store.root == store_root.resolve()
    rid = store.create(_spec(), FP, pid=os.getpid())
    record = store.read_json(rid, "spec.json")
    assert record["run_id"] == rid and record["data_fingerprint"] == FP
    assert set(record) == {"spec", "data_fingerprint", "run_id", "versions", "created", "owner"}
    assert store.spec(rid) == _spec()
    assert store.status(rid)["state"] == "queued"
    assert _no_temp_files(store_root)


def test_stamp_changes_with_every_write_the_live_view_watches(store_root):
    store = RunStore(store_root)
    rid = store.create(RunSpec(), "fp")
    first = store.stamp(rid)
    assert first[0] is not None and first[1] is None  # status written, no epoch yet
    store.append_metrics(rid, {"epoch": 1, "loss": 1.0})
    after_epoch = store.stamp(rid)
    assert after_epoch[1] is not None and after_epoch != first
    os.utime(store.run_dir(rid) / "status.json", ns=(0, 0))  # an old mtime, then a write
    old = store.stamp(rid)
    store.write_status(rid, epoch=1)
    assert store.stamp(rid)[0] != old[0]
    assert store.stamp("0123456789abcdef") == (None, None)  # no such run: nothing to watch


def test_run_ids_are_checked_before_any_path(store_root):
    store = RunStore()
    for bad in ("../etc", "ABCDEF0123456789", "", "0123"):
        with pytest.raises(SpecError):
            store.run_dir(bad)
    assert list(store_root.iterdir()) == []


def test_failed_write_leaves_old_file_and_no_temp(store_root):
    store = RunStore()
    rid = store.create(_spec(), FP)
    store.write_json(rid, "summary.json", {"a": 1})
    with pytest.raises(TypeError):
        store.write_json(rid, "summary.json", {"a": object()})
    assert store.read_json(rid, "summary.json") == {"a": 1}
    assert _no_temp_files(store_root)


def test_metrics_reader_drops_truncated_line_and_append_recovers(store_root):
    store = RunStore()
    rid = store.create(_spec(), FP)
    store.append_metrics(rid, {"epoch": 1, "loss": np.float32(0.25)})
    with open(store.run_dir(rid) / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "lo')  # a writer killed mid-line
    assert [r["epoch"] for r in store.metrics(rid)] == [1]
    store.append_metrics(rid, {"epoch": 2, "loss": 0.2})
    assert [r["epoch"] for r in store.metrics(rid)] == [1, 2]


def test_probe_and_prices_round_trip(store_root):
    store = RunStore()
    rid = store.create(_spec(), FP)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    store.write_probe(rid, x, np.ones(2, np.float32))
    got = store.probe(rid)
    np.testing.assert_array_equal(got["x"], x)
    idx = pd.DatetimeIndex(pd.to_datetime(["2020-01-02", "2020-01-03"]), name="date")
    df = pd.DataFrame({"close": [1.0, 2.0]}, index=idx)
    assert store.save_prices(df, FP) == FP
    pd.testing.assert_frame_equal(store.load_prices(FP), df)
    with pytest.raises(UserError):
        store.load_prices("../../etc/passwd")


def test_dead_or_reused_pid_reads_as_interrupted(store_root):
    store = RunStore()
    rid = store.create(_spec(), FP, pid=os.getpid())
    store.write_status(rid, state="running")
    assert store.status(rid)["state"] == "running"
    # Same pid, different create time: the pid was reused by another process.
    store.write_status(rid, pid_created=process_identity()["pid_created"] - 100)
    st = store.status(rid)
    assert st["state"] == "failed" and st["error"] == INTERRUPTED
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    store.write_status(rid, pid=child.pid, pid_created=time.time())
    st = store.status(rid)
    assert st["state"] == "failed" and st["error"] == INTERRUPTED


def test_checksum_mismatch_is_not_a_cache_hit(store_root):
    store = RunStore()
    rid = _finished(store, 0)
    assert store.is_complete(rid)
    with open(store.model_path(rid), "r+b") as f:
        f.write(b"garbage")
    assert not store.is_complete(rid)
    rid2 = _finished(store, 1, state="diverged")
    assert not store.is_complete(rid2)


def test_damaged_runs_are_listed_not_fatal(store_root):
    store = RunStore()
    good = _finished(store, 0)
    bad_spec = _finished(store, 1)
    (store.run_dir(bad_spec) / "spec.json").write_text('{"spec": {"model": {"cel')
    no_summary = _finished(store, 2)
    (store.run_dir(no_summary) / "summary.json").unlink()
    bad_status = _finished(store, 3)
    (store.run_dir(bad_status) / "status.json").write_text("not json")
    (store_root / "not-a-run").mkdir()
    rows = {r["run_id"]: r for r in store.list_runs()}
    assert set(rows) == {good, bad_spec, no_summary, bad_status}
    assert not rows[good]["damaged"] and rows[good]["rmse"] == 1.5 and rows[good]["cell"] == "lstm"
    assert rows[bad_spec]["damaged"] and rows[no_summary]["damaged"] and rows[bad_status]["damaged"]
    assert all(r["size_bytes"] > 0 for r in rows.values())


def test_evict_removes_least_recently_used_finished_runs(store_root):
    store = RunStore()
    ids = [_finished(store, seed, size=100_000) for seed in range(4)]
    active = store.create(_spec(9), FP, pid=os.getpid())
    (store.run_dir(active) / "model.keras").write_bytes(os.urandom(100_000))
    now = time.time()
    # Use order, oldest first: ids[2], ids[0], ids[3], ids[1]; the active run is the oldest of all.
    for age, rid in zip(
        (4000, 3000, 2000, 1000, 10000), (ids[2], ids[0], ids[3], ids[1], active), strict=True
    ):
        os.utime(store.run_dir(rid), (now - age, now - age))
    assert store.evict(250_000) == [ids[2], ids[0], ids[3]]
    assert set(store.run_ids()) == {ids[1], active}
    assert store.evict(0) == [ids[1]]
    assert store.run_ids() == [active]


def test_evict_budget_from_env(store_root, monkeypatch):
    store = RunStore()
    rid = _finished(store, 0, size=2_000_000)
    _age(store, rid, 3600)
    monkeypatch.setenv("GRADLAB_CACHE_BUDGET_MB", "100")
    assert store.evict() == []
    monkeypatch.setenv("GRADLAB_CACHE_BUDGET_MB", "1")
    assert store.evict() == [rid]


def test_delete_refuses_active_and_unknown(store_root):
    store = RunStore()
    active = store.create(_spec(), FP, pid=os.getpid())
    with pytest.raises(UserError, match="cancel it first"):
        store.delete(active)
    with pytest.raises(UserError, match="no run"):
        store.delete("0" * 16)
    done = _finished(store, 1)
    store.delete(done)
    assert store.run_ids() == [active]


def test_clean_tmp_removes_orphans_only(store_root):
    store = RunStore()
    rid = _finished(store, 0)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    orphan = store.run_dir(rid) / f"{TMP_PREFIX}{child.pid}-deadbeef-model.keras"
    orphan.write_bytes(b"half")
    mine = store.run_dir(rid) / f"{TMP_PREFIX}{os.getpid()}-cafecafe-summary.json"
    mine.write_text("{}")
    assert store.clean_tmp() == 1
    assert not orphan.exists() and mine.exists()
    assert store.is_complete(rid)


def test_a_worker_killed_while_registering_leaves_nothing_behind(store_root):
    # Its registry entry is written through the one atomic writer: a kill mid-write leaves a
    # temp in _workers that is neither read as a worker nor kept by clean_tmp.
    from core import worker_pool

    store = RunStore()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    worker_pool._register(store, {"pid": os.getpid(), "pid_created": None, "serving": None})
    dead = store.root / "_workers" / f"{TMP_PREFIX}{child.pid}-deadbeef-{child.pid}.json"
    dead.write_text(json.dumps({"pid": os.getpid(), "pid_created": None}))  # complete, even
    assert [w["pid"] for w in worker_pool.live_workers(store)] == [os.getpid()]
    assert store.clean_tmp() == 1 and not dead.exists()
    assert sorted(p.name for p in (store.root / "_workers").iterdir()) == [f"{os.getpid()}.json"]


def test_summary_records_checksums_of_present_artifacts(store_root):
    store = RunStore()
    rid = _finished(store, 0)
    summary = json.loads((store.run_dir(rid) / "summary.json").read_text())
    assert {"spec.json", "metrics.jsonl", "predictions.parquet", "model.keras"} <= set(
        summary["checksums"]
    )


def test_json_files_store_numpy_and_timestamps_as_plain_values(store_root):
    store = RunStore(store_root)
    rid = store.create(_spec(), FP)
    when = pd.Timestamp("2024-01-02 03:04:05")
    store.write_json(rid, "extra.json", {"n": np.int64(3), "a": np.arange(2.0), "t": when})
    assert store.read_json(rid, "extra.json") == {"n": 3, "a": [0.0, 1.0], "t": when.isoformat()}
    with pytest.raises(TypeError, match="cannot store object in JSON"):
        store.write_json(rid, "bad.json", {"x": object()})


LIGHT_READS = """
import sys
from core import jobs
from core.runs import RunStore
store = RunStore(sys.argv[1])
rows, queue = store.list_runs(), jobs.queue(store)
assert [r["state"] for r in rows] == ["queued"] and [q["state"] for q in queue] == ["queued"]
print("PANDAS", "pandas" in sys.modules)
"""


def test_listing_runs_and_the_queue_never_import_pandas(store_root):
    # The sidebar and Home call these on a newcomer's first page; pandas took most of it.
    RunStore(store_root).create(_spec(), FP)
    out = subprocess.run(
        [sys.executable, "-c", LIGHT_READS, str(store_root)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "PANDAS False" in out.stdout


def test_evict_spares_a_run_finished_moments_ago_even_over_budget(store_root):
    store = RunStore()
    old = _finished(store, 0, size=100_000)
    _age(store, old, 3600)
    fresh = _finished(store, 1, size=100_000)  # a worker's result, written just now
    assert store.evict(1) == [old]
    assert store.run_ids() == [fresh] and store.is_complete(fresh)


def test_evict_skips_a_run_whose_lock_is_held(store_root):
    store = RunStore()
    rid = _finished(store, 0, size=100_000)
    _age(store, rid, 3600)
    with store.lock(rid):  # a submission or a foreground train of this very run
        assert store.evict(1) == []
    assert store.run_ids() == [rid]


def test_a_run_bigger_than_the_budget_is_refused_before_anything_is_written(
    store_root, monkeypatch
):
    monkeypatch.setenv("GRADLAB_CACHE_BUDGET_MB", "5")
    store = RunStore()
    big = RunSpec().replace(layers=4, units=512, epochs=1)
    with pytest.raises(UserError, match="raise the budget to at least"):
        store.create(big, FP)
    assert store.run_ids() == []
    assert store.create(_spec(), FP) in store.run_ids()  # a small run still fits


@pytest.mark.parametrize("raw", ["2GB", "-5", "0", "nan", "inf"])
def test_a_malformed_budget_is_a_clear_error(monkeypatch, raw):
    from core.runs import budget_from_env

    monkeypatch.setenv("GRADLAB_CACHE_BUDGET_MB", raw)
    with pytest.raises(UserError, match="GRADLAB_CACHE_BUDGET_MB must be a positive number"):
        budget_from_env()


def test_delete_waits_for_the_submission_lock_and_keeps_a_requeued_run(store_root, monkeypatch):
    """A resubmission that lands between delete's state check and its rename must survive."""
    import threading

    store = RunStore()
    rid = _finished(store, 0)
    real_status = RunStore.status
    resubmit = threading.Thread(target=_resubmit, args=(store,))

    def status_then_resubmit(self, run_id):
        st = real_status(self, run_id)
        if not resubmit.is_alive() and resubmit.ident is None:
            resubmit.start()  # another process submits the same spec right now
            resubmit.join(timeout=1.0)  # with the lock held by delete it has to wait
        return st

    monkeypatch.setattr(RunStore, "status", status_then_resubmit)
    store.delete(rid)  # finds it done and removes it; the resubmission waits for the lock
    resubmit.join()
    with pytest.raises(UserError, match="cancel it first"):
        store.delete(rid)  # what is there now is the queued resubmission
    monkeypatch.setattr(RunStore, "status", real_status)
    assert store.run_ids() == [rid] and store.status(rid)["state"] == "queued"


def _resubmit(store: RunStore) -> None:
    with store.lock(store.run_ids()[0]):
        store.create(_spec(0), FP, pid=os.getpid())


def test_prices_and_yahoo_downloads_count_and_unreferenced_prices_go(store_root):
    store = RunStore()
    rid = _finished(store, 0, size=1000)
    _age(store, rid, 3600)
    data, yahoo = store_root / "_data", store_root / "_yahoo"
    data.mkdir(exist_ok=True)
    yahoo.mkdir()
    used, orphan = data / f"{FP}.parquet", data / f"{'cd' * 32}.parquet"
    download = yahoo / "0123.parquet"
    for path in (used, orphan, download):
        path.write_bytes(os.urandom(300_000))
        os.utime(path, (time.time() - 3600,) * 2)
    # The run alone fits 200 kB; with the Yahoo download it does not: the download goes first.
    assert store.evict(600_000) == []
    assert not orphan.exists() and used.exists() and not download.exists()
    assert store.run_ids() == [rid]
    assert store.evict(1) == [rid]  # then the run; its prices are pruned on the next pass
    store.evict(1)
    assert not used.exists()


@pytest.mark.parametrize("date", ["２０２０-01-02", "٢٠٢٠-01-02", "2020-0١-02"])
def test_dates_take_ascii_digits_only(date):
    with pytest.raises(SpecError):
        RunSpec().replace(start=date).validate()
