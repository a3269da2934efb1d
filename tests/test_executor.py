"""The executor seam: jobs decides what runs, the executor where; the run store is the contract."""

import multiprocessing
import os

import pytest

from core import data, executor, jobs
from core.config import RunSpec
from core.errors import UserError
from core.procs import process_identity
from core.runs import RunStore


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


def _submit_in_child(root: str, seed: int, owner: int, gate, out) -> None:
    os.environ["MODELS_CACHE"] = root
    os.environ["GRADLAB_MAX_QUEUE"] = "2"
    prices = data.load_prices("sample", "^GSPC", start="2015-01-01", end="2016-06-30")
    gate.wait()  # all four race for the same moment
    try:
        jobs.submit(_spec(seed), prices, RunStore(root), executor=RecordingExecutor(owner))
        out.put("queued")
    except UserError as exc:
        out.put(str(exc))


def test_queue_limit_holds_across_processes(store_root):
    # 14.3: four simultaneous submits from four processes with GRADLAB_MAX_QUEUE=2 queue 2.
    ctx = multiprocessing.get_context("spawn")
    gate, out = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(target=_submit_in_child, args=(str(store_root), s, os.getpid(), gate, out))
        for s in range(4)
    ]
    for p in procs:
        p.start()
    answers = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sorted(answers)[-2:] == ["queued", "queued"], answers
    assert sum("already queued or training" in a for a in answers) == 2, answers
    assert len(RunStore(store_root).run_ids()) == 2
