"""Time to result: compile chosen from the expected work, phases recorded, speed labelled."""

import types

import numpy as np
import pytest

from core import compile_choice, phases
from core.config import RunSpec
from core.errors import UserError

XLA8 = {"jit_compile": True, "steps_per_execution": 8}


def test_small_work_skips_xla_and_large_work_keeps_it(monkeypatch):
    monkeypatch.delenv("GRADLAB_XLA", raising=False)
    small = compile_choice.choose(RunSpec().replace(epochs=3, patience=0), 500, XLA8)
    assert small["xla"] is False and small["options"] == {"steps_per_execution": 8}
    assert "below the break-even" in small["why"]
    big = RunSpec().replace(units=256, layers=2, lookback=200, epochs=50, patience=0)
    large = compile_choice.choose(big, 5000, XLA8)
    assert large["xla"] is True and large["options"] == XLA8
    gpu = compile_choice.choose(big, 5000, {})
    assert gpu["options"] == {} and gpu["xla"] is False


def test_the_measured_break_even_cases_get_the_choice_that_paid(monkeypatch):
    # docs/BENCHMARKS.md, bench/breakeven.py on a quiet box: the default run (32 x 30) pays
    # XLA back after ~10 epochs, 128 x 120 within its first; 3500 training windows each.
    monkeypatch.delenv("GRADLAB_XLA", raising=False)
    default = RunSpec()  # patience 5: about 8 epochs expected
    assert compile_choice.choose(default, 3500, XLA8)["xla"] is False
    long = default.replace(epochs=20, patience=0)
    assert compile_choice.choose(long, 3500, XLA8)["xla"] is True
    wide = default.replace(units=128, lookback=120)
    assert compile_choice.choose(wide, 3500, XLA8)["xla"] is True


def test_early_stopping_shortens_the_expected_work():
    spec = RunSpec().replace(epochs=200, patience=5)
    assert compile_choice.expected_epochs(spec) == 5 + compile_choice.EARLY_STOP_EPOCHS
    assert compile_choice.expected_epochs(spec.replace(patience=0)) == 200


def test_gradlab_xla_overrides_and_is_checked(monkeypatch):
    monkeypatch.setenv("GRADLAB_XLA", "on")
    assert compile_choice.choose(RunSpec().replace(epochs=1), 100, XLA8)["xla"] is True
    monkeypatch.setenv("GRADLAB_XLA", "maybe")
    with pytest.raises(UserError, match="GRADLAB_XLA must be on or off"):
        compile_choice.choose(RunSpec(), 100, XLA8)


def test_waits_of_a_warm_worker_and_of_a_cold_one():
    # Warm: the worker was ready before the run was queued; the run waited 2 s for a slot.
    warm = {"queued_at": 100.0, "claimed_ts": 102.0, "worker_ready_ts": 50.0}
    warm["worker_started_ts"] = 40.0
    assert phases.waits(warm, 102.1, 40.0, 0.0) == {"queue_wait": 2.0, "worker_start": 0.0}
    # Cold: the submit started the worker at 100.5; it became ready 5.5 s later.
    cold = {**warm, "worker_started_ts": 100.5, "worker_ready_ts": 106.0, "claimed_ts": 106.1}
    got = phases.waits(cold, 106.2, 100.5, 0.0)
    assert got["worker_start"] == pytest.approx(5.5) and got["queue_wait"] == pytest.approx(0.6)
    # The CLI in-process: TensorFlow loads inside the run.
    cli = phases.waits({"queued_at": 10.0}, 10.2, 1.0, 4.5)
    assert cli == {"queue_wait": pytest.approx(0.2), "worker_start": 4.5}


def test_throughput_is_labelled_steady_and_end_to_end():
    spent = {"first_epoch": 4.0, "epochs": 2.0, "save": 1.0, "data": 1.0}
    out = phases.throughput(1000, 3, 1000.0, spent)
    assert out == {"samples_per_second_steady": 1000.0, "samples_per_second_end_to_end": 375.0}
    assert list(phases.ordered({"save": 1, "data": 2, "first_epoch": 3})) == [
        "data",
        "first_epoch",
        "save",
    ]


class _PhaseSink:
    def __init__(self):
        self.phases, self.batches, self.rows = [], [], []

    def on_probe(self, x, y):
        pass

    def on_epoch(self, row, gtt):
        self.rows.append(row)

    def on_phase(self, name, words):
        self.phases.append(name)

    def on_batch(self, epoch, batch, batches):
        self.batches.append((epoch, batch, batches))


@pytest.mark.slow
def test_fit_reports_its_phases_batches_and_steady_speed():
    training = pytest.importorskip("core.training")
    rng = np.random.default_rng(0)

    def split(n):
        x = rng.normal(size=(n, 6, 1)).astype(np.float32)
        return types.SimpleNamespace(x=x, y=x[:, -1, 0].copy())

    ds = types.SimpleNamespace(train=split(96), val=split(32))
    spec = RunSpec().replace(units=4, epochs=3, batch_size=32, lookback=6, probe_size=8)
    sink = _PhaseSink()
    result = training.fit(spec.replace(patience=0), ds, sink)
    assert sink.phases == ["build", "probe", "first_epoch", "epochs", "kept_probe"]
    assert set(result.phases) == set(sink.phases) and all(v >= 0 for v in result.phases.values())
    assert sink.batches[-1] == (3, 3, 3)  # 96 windows / 32 per batch, last epoch's last batch
    later = sum(r["seconds"] for r in sink.rows[1:])
    assert result.steady_samples_per_second == pytest.approx(96 * 2 / later)
    assert result.compile["xla"] is False  # three tiny epochs: compiling would not pay
