"""bench/lockstep.py: fits take strict turns, and each clock runs only on its own turns."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
lockstep = pytest.importorskip("lockstep")


class _Clock:
    """A virtual clock for lockstep's wall and CPU readings: it moves only when a fake fit
    'computes', so the figures are exact however busy the machine is."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    process_time = perf_counter


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(lockstep, "time", fake)
    return fake


class _FakeModel:
    """model.fit's callback protocol, with a fixed virtual compute time per 'train call'."""

    def __init__(
        self, name: str, step_s: float, log: list, clock: _Clock | None = None, fail: bool = False
    ) -> None:
        self.name, self.step_s, self.log, self.fail = name, step_s, log, fail
        self.clock = clock

    def fit(self, epochs: int, steps: int, callbacks: list, verbose: int) -> None:
        for epoch in range(epochs):
            for step in range(steps):
                if self.clock is not None:
                    self.clock.now += self.step_s  # only the player whose turn it is runs
                else:
                    time.sleep(self.step_s)
                self.log.append(self.name)
                if self.fail and step == 1:
                    raise RuntimeError("boom")
                for cb in callbacks:
                    cb.on_train_batch_end(step)
            for cb in callbacks:
                cb.on_epoch_end(epoch)


def test_fits_alternate_and_each_clock_counts_only_its_turns(clock) -> None:
    log: list[str] = []
    arms = {
        "a": (_FakeModel("a", 0.01, log, clock), []),
        "b": (_FakeModel("b", 0.03, log, clock), []),
    }
    feed = {"epochs": 2, "steps": 4}
    sps = lockstep.run(arms, {"a": feed, "b": feed}, samples=8)
    assert log == ["a", "b"] * 8  # strict turns, a first
    # a computed 8 x 10 ms, b 8 x 30 ms of virtual time; were the other's turns on a clock,
    # a would read 8 / 0.32 = 25 samples/s.
    assert sps["a"] == pytest.approx((8 / 0.08, 8 / 0.08))
    assert sps["b"] == pytest.approx((8 / 0.24, 8 / 0.24))


def test_a_finished_fit_leaves_the_other_running_alone() -> None:
    log: list[str] = []
    arms = {"a": (_FakeModel("a", 0.001, log), []), "b": (_FakeModel("b", 0.001, log), [])}
    lockstep.run(arms, {"a": {"epochs": 1, "steps": 1}, "b": {"epochs": 1, "steps": 4}}, 4)
    assert log == ["a", "b", "b", "b", "b"]


def test_an_error_in_one_fit_is_raised_after_both_threads_end() -> None:
    log: list[str] = []
    arms = {
        "a": (_FakeModel("a", 0.001, log, fail=True), []),
        "b": (_FakeModel("b", 0.001, log), []),
    }
    with pytest.raises(RuntimeError, match="boom"):
        lockstep.run(arms, {n: {"epochs": 1, "steps": 3} for n in arms}, 3)
    assert log.count("b") == 3  # b was not left waiting for a turn that never came
