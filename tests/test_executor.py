"""The executor seam: jobs decides what runs, the executor where; the run store is the contract."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import data, executor, jobs
from core.config import RunSpec
from core.errors import UserError
from core.procs import process_identity
from core.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]


class RecordingExecutor:
    """Trains nothing: records calls; its runs belong to this (live) test process."""

    name = "fake"

    def __init__(self, owner_pid: int | None = None):
        self.owner_pid = owner_pid or os.getpid()
        self.calls: list[tuple] = []

    def launch(self, store, run_id):
        self.calls.append(("launch", run_id))
        return process_identity(self.owner_pid)

    def stop(self, store, run_id, status):
        self.calls.append(("stop", run_id, status.get("state")))

    def ensure_started(self, store):
        self.calls.append(("ensure",))


@pytest.fixture(scope="module")
def prices():
    return data.load_prices("sample", "^GSPC", start="2015-01-01", end="2016-06-30")


def _spec(seed: int = 0) -> RunSpec:
    return RunSpec().replace(epochs=2, units=4, lookback=5, patience=0, seed=seed)


def test_executor_is_chosen_by_env(monkeypatch):
    monkeypatch.setenv("GRADLAB_EXECUTOR", "LOCAL")
    assert executor.get_executor().name == "local"
    monkeypatch.setenv("GRADLAB_EXECUTOR", "slurm")
    with pytest.raises(UserError, match="GRADLAB_EXECUTOR must be one of local, ray"):
        executor.get_executor()


def test_an_executor_that_cannot_load_is_a_clear_message(monkeypatch):
    monkeypatch.setitem(executor.EXECUTORS, "ray", "core.no_such_module:RayExecutor")
    monkeypatch.delitem(executor._cache, "ray", raising=False)
    with pytest.raises(UserError, match="requirements-ray.txt"):
        executor.get_executor("ray")


def test_submit_launches_once_and_records_the_executor(store_root, prices):
    store, fake = RunStore(), RecordingExecutor()
    first = jobs.submit(_spec(), prices, store, executor=fake)
    again = jobs.submit(_spec(), prices, store, executor=fake)
    assert first == again == jobs.Submitted(first.run_id, False, "queued")
    assert fake.calls == [("launch", first.run_id), ("ensure",)]  # the second: no new launch
    st = store.status(first.run_id)
    assert st["executor"] == "fake" and st["pid"] == os.getpid() and st["state"] == "queued"


def test_cancel_asks_the_executor_that_ran_it(store_root, prices, monkeypatch):
    store, fake = RunStore(), RecordingExecutor()
    rid = jobs.submit(_spec(), prices, store, executor=fake).run_id
    monkeypatch.setitem(executor._cache, "fake", fake)
    assert jobs.cancel(rid, store)["state"] == "cancelled"
    assert fake.calls[-1] == ("stop", rid, "queued")
    assert jobs.queue(store) == []


CHILD = """
import os, sys, time
from pathlib import Path
root, seed, owner, flags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
sys.path.insert(0, os.getcwd())
os.environ["MODELS_CACHE"], os.environ["GRADLAB_MAX_QUEUE"] = root, "2"
from core import data, jobs
from core.errors import UserError
from core.runs import RunStore
from tests.test_executor import RecordingExecutor, _spec
prices = data.load_prices("sample", "^GSPC", start="2015-01-01", end="2016-06-30")
(flags / f"ready-{seed}").touch()
while not (flags / "go").exists():  # all four race for the same moment
    time.sleep(0.005)
try:
    jobs.submit(_spec(seed), prices, RunStore(root), executor=RecordingExecutor(owner))
    print("queued")
except UserError as exc:
    print(exc)
"""


def test_queue_limit_holds_across_processes(store_root, tmp_path):
    # 14.3: four simultaneous submits from four processes with GRADLAB_MAX_QUEUE=2 queue 2.
    # Fresh interpreters (not multiprocessing's spawn, which re-imports the pytest parent's
    # main module and hung behind its barrier in the full suite) released by one flag file.
    flags = tmp_path / "flags"
    flags.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(store_root), str(s), str(os.getpid()), str(flags)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for s in range(4)
    ]
    deadline = time.monotonic() + 300
    while len(list(flags.glob("ready-*"))) < 4:
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [
            p.communicate() for p in procs if p.poll() is not None
        ]
        time.sleep(0.05)
    (flags / "go").touch()
    answers = [p.communicate(timeout=300)[0].strip().splitlines()[-1] for p in procs]
    assert sorted(answers)[-2:] == ["queued", "queued"], answers
    assert sum("already queued or training" in a for a in answers) == 2, answers
    assert len(RunStore(store_root).run_ids()) == 2


def test_a_run_records_the_niceness_it_trained_at():
    # Ray starts its workers at niceness 15, which starved training under load: the summary
    # says which priority a run had (what worker._finish writes), here from a process at 7.
    code = "from core.worker import _placement; print(_placement({})['niceness'])"
    out = subprocess.run(
        ["nice", "-n", "7", sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert out.stdout.strip() == "7", out.stderr
