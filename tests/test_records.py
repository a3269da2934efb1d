"""Typed run-record views (core/record_views.py, core/record_rows.py): what the pages read."""

import math

import pytest

from core.record_rows import GradientsView, ListingView, QueueView, RecordView
from core.record_views import (
    CompileChoice,
    MetricsRowView,
    StatusView,
    SummaryView,
    TestMetrics,
)
from core.records import RunState
from core.runs import RunStore
from tests.fakes import make_run

VIEWS = (StatusView, MetricsRowView, SummaryView, TestMetrics, RecordView, GradientsView)


@pytest.mark.parametrize("view", VIEWS + (ListingView, QueueView))
@pytest.mark.parametrize("raw", [None, {}, [], "done", 3, {"state": 1, "metrics": "x"}])
def test_any_raw_value_gives_a_view_never_an_exception(view, raw):
    out = view.of(raw)
    assert isinstance(out, view)


def test_status_reads_known_fields_and_drops_wrong_types():
    st = StatusView.of(
        {"state": "running", "epoch": 3, "epochs": "20", "error": 7, "phase": "training"}
    )
    assert st.state is RunState.RUNNING and st.is_active and not st.is_finished
    assert (st.epoch, st.epochs, st.error, st.phase) == (3, None, None, "training")
    assert st.raw["epochs"] == "20"  # the raw record stays as read


def test_status_unknown_or_missing_state_is_none_and_keeps_the_text():
    odd = StatusView.of({"state": "exploded"})
    assert odd.state is None and odd.state_text == "exploded"
    assert not odd.is_active and not odd.is_done and not odd.is_finished
    assert StatusView.of({}).state is None
    assert StatusView.of({"state": True}).state_text is None


def test_bool_and_non_finite_numbers_are_not_numbers():
    row = MetricsRowView.of({"epoch": True, "loss": math.nan, "val_loss": math.inf, "lr": False})
    assert (row.epoch, row.loss, row.val_loss, row.lr) == (None, None, None, None)
    assert MetricsRowView.of({"epoch": 2, "seconds": 1}).seconds == 1.0


def test_metrics_row_maps_of_the_wrong_type_read_empty():
    row = MetricsRowView.of({"epoch": 1, "grad_norm": [1, 2], "gates": {"lstm": {"f": 0.9}}})
    assert row.grad_norm == {} and row.gates == {"lstm": {"f": 0.9}}


def test_summary_missing_is_not_found_with_documented_defaults():
    s = SummaryView.of(None)
    assert not s.found and s.metrics == TestMetrics() and s.cudnn_eligible is True
    assert s.phases == {} and s.step_factors == [] and s.total_seconds == 0.0


def test_summary_wrong_types_read_as_defaults():
    s = SummaryView.of(
        {
            "params": "4385",
            "cudnn_eligible": "no",
            "mixed_precision": 1,
            "phases": {"fit": 2.0, "save": "slow", "load": None},
            "kept_gates": {"l0": {"step_factor": 0.97}, "l1": "x", "l2": {"step_factor": "?"}},
            "compile": {"xla": "yes", "why": "forced", "work": 2e6},
            "metrics": {"rmse": "1.2", "dm_vs_naive": None, "lag_check": [1], "n": 2.5},
        }
    )
    assert s.found and s.params is None and s.cudnn_eligible is True and not s.mixed_precision
    assert s.phases == {"fit": 2.0} and s.total_seconds == 2.0
    assert s.step_factors == [0.97]
    assert (s.compile.xla, s.compile.why, s.compile.work) == (None, "forced", 2e6)
    m = s.metrics
    assert m.rmse is None and m.dm_p_value is None and m.n is None
    assert m.lag_check.gap is None


def test_task_metrics_are_recognised_by_their_baseline():
    assert TestMetrics.of({"baseline": "training mean", "mse": 0.1}).is_task
    assert not TestMetrics.of({"rmse": 1.0}).is_task


def test_views_of_a_finished_run_match_what_the_store_holds(store_root):
    store = RunStore(store_root)
    rid = make_run(store_root, cell="gru", epochs=3)
    raw = store.summary(rid)
    s = SummaryView.of(raw)
    m = s.metrics
    assert s.found and s.params == raw["params"] and s.epochs_run == 3 and s.device == "CPU"
    for key in ("rmse", "mae", "mape", "naive_rmse", "skill", "directional_accuracy"):
        assert getattr(m, key) == pytest.approx(raw["metrics"][key])
    assert m.dm_p_value == pytest.approx(raw["metrics"]["dm_vs_naive"]["p_value"])
    assert m.verdict_vs_naive == raw["metrics"]["verdict_vs_naive"]
    assert m.lag_check.gap == pytest.approx(raw["metrics"]["lag_check"]["gap"])
    assert m.n == raw["metrics"]["n"] and not m.is_task

    st = StatusView.of(store.status(rid))
    assert st.is_done and st.epoch == 3 and st.epochs == 3

    rows = [MetricsRowView.of(r) for r in store.metrics(rid)]
    assert [r.epoch for r in rows] == [1, 2, 3]
    assert all(r.loss is not None and "global" in r.grad_norm for r in rows)

    (listing,) = [ListingView.of(r) for r in store.list_runs()]
    assert listing.run_id == rid and listing.is_done and listing.cell == "gru"
    assert listing.skill == pytest.approx(m.skill) and listing.skill_p == pytest.approx(
        m.dm_p_value
    )

    record = RecordView.of(store.record(rid))
    assert record.cell == "gru" and record.setting("train", "epochs") == 3
    assert record.data_fingerprint

    raw_gtt = store.gradients_through_time(rid)
    gtt = GradientsView.of(raw_gtt)
    assert gtt.epochs == raw_gtt["epochs"] and len(gtt.norms) == len(gtt.epochs)
    assert gtt.lags and len(gtt.norms[-1]) == len(gtt.lags)


def test_listing_of_a_running_and_a_damaged_run(store_root):
    store = RunStore(store_root)
    running = make_run(store_root, state="running", epochs=4)
    damaged = make_run(store_root, seed=1)
    (store.run_dir(damaged) / "spec.json").write_text("[]")
    views = {r.run_id: r for r in map(ListingView.of, store.list_runs())}
    assert views[running].is_active and not views[running].is_done
    assert views[damaged].damaged and not views[damaged].is_done
    assert views[damaged].error and views[damaged].error.startswith("damaged")


def test_listing_period_is_read_when_present():
    row = ListingView.of({"run_id": "a", "period": {"first": "2020-01-02", "last": 5}})
    assert row.period is not None and row.period.first == "2020-01-02" and row.period.last is None
    assert ListingView.of({"run_id": "a", "period": None}).period is None


def test_gradients_default_epochs_and_kept_probe():
    g = GradientsView.of({"lags": [0, 1], "norms": [[1.0, None], [2.0, "x"]], "kept": {"epoch": 2}})
    assert g.epochs == [1, 2] and g.norms == [[1.0, None], [2.0, None]]
    assert g.kept_epoch == 2 and g.kept_norms == []


def test_compile_choice_says_how_the_step_was_compiled_and_whether_it_was_reused():
    assert CompileChoice.of(None).words() is None  # an old run: nothing said
    plain = CompileChoice.of({"xla": False, "why": "expected work 4.4e+05 below 6e+05"})
    assert plain.words() == "graph mode without XLA (expected work 4.4e+05 below 6e+05)"
    warm = CompileChoice.of({"xla": True, "why": "a warm worker ...", "reused": True})
    assert warm.reused is True and warm.words().startswith("compiled with XLA (a warm worker")
    assert "already compiled in this warm worker" in warm.words()
    assert CompileChoice.of({"xla": True, "reused": "yes"}).reused is None
