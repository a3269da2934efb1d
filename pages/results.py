"""Results: one run in full. Predictions beside the naive baseline, losses, gradients, spec.

Pick a run in the selector or open ?run=<id>. Everything shown is read from the run store
through the typed record views (core/record_views.py); reads and figures are cached per run
id and modification time (pages/lib/results_data.py), so a finished run renders at once and
a running one shows its newest epochs on refresh. The headline (metric cards, predictions,
training curves, gradients through time) comes first; the secondary views sit in tabs that
build only when opened (pages/lib/results_tabs.py), so the browser draws five charts, not
seven.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import evaluation
from core.config import check_run_id
from core.errors import UserError
from core.record_rows import ListingView
from core.record_views import StatusView, TestMetrics
from pages.lib import words
from pages.lib.results_cards import lag_words, metric_cards, run_facts, state_banner, task_cards
from pages.lib.results_data import RunFiles, prepare
from pages.lib.results_tabs import secondary, training_charts
from pages.lib.ui import (
    cell_badge,
    empty_state,
    get_store,
    run_label,
    show_error,
    through_router,
    with_periods,
)

through_router()  # first: a fresh server's deep link must run app.py

KEY = "results_run"
HELP_PICK = "pick a run from the list below, or open one from the Runs page"


def _from_query(ids: list[str]) -> str | None:
    """The ?run= id when it names a run here; otherwise an error that says what to do."""
    raw = st.query_params.get("run")
    if raw is None:
        return None
    try:
        rid = check_run_id(raw)
        if rid not in ids:
            raise UserError(f"there is no run {rid} in this store: {HELP_PICK}")
        return rid
    except UserError as exc:
        show_error(exc)
        return None


def _pick_run(runs: list[ListingView]) -> str:
    ids = [r.run_id for r in runs]
    labels = {r.run_id: run_label(r) for r in with_periods(runs)}
    wanted = _from_query(ids)
    if st.session_state.get(KEY) not in ids:
        st.session_state.pop(KEY, None)  # a deleted run must not linger in the selector
    if wanted and st.session_state.get(KEY) != wanted:
        st.session_state[KEY] = wanted
    # The callback runs before the rerun, so the URL already names the new choice when
    # _from_query reads it; otherwise the old ?run= would snap the selector back.
    rid = st.selectbox("Run", ids, format_func=labels.get, key=KEY, on_change=_sync_url)
    st.query_params["run"] = rid  # the URL always names what is on screen: shareable
    return rid


def _sync_url() -> None:
    st.query_params["run"] = st.session_state[KEY]


def headline(data: RunFiles, status: StatusView, figs: dict[str, Any]) -> None:
    """Metric cards and the lag check first (text draws at once), then the predictions."""
    metrics = data.summary.metrics
    st.subheader("Predictions")
    if metrics.is_task:  # a memory task: no prices, no naive day
        task_cards(metrics)
    elif metrics.raw:
        # A run stored before the verdict fields gets them from its predictions, on the fly.
        metrics = TestMetrics.of(evaluation.with_verdicts(metrics.raw, data.pred))
        metric_cards(metrics)
        lag_words(metrics)
    elif data.pred is None and status.is_active:
        st.info("No predictions yet: they are written when training finishes.")
    if figs.get("pred") is not None:
        st.plotly_chart(figs["pred"], key="res_pred")
        st.caption(
            "Daily prices move little from one day to the next, so the three lines nearly "
            "coincide at this scale: the Errors vs naive tab below sets the model's errors "
            "beside the naive forecast's."
        )


def render(rid: str, status: StatusView, data: RunFiles, figs: dict[str, Any]) -> None:
    cell_badge(data.cell)
    run_facts(status, data.summary)
    state_banner(status, data)
    headline(data, status, figs)
    words.run_words(data.record, data.summary, data.gtt)
    st.subheader("Training")
    training_charts(data, figs)
    st.subheader("Gradients and details")
    secondary(rid, data, figs)


st.title("Results")
try:
    store = get_store()
    runs = [ListingView.of(r) for r in store.list_runs()]
except UserError as exc:
    show_error(exc)
    st.stop()
if not runs:
    empty_state("No runs yet: train one, then its results appear here.")
    st.stop()
run = _pick_run(runs)
try:
    loaded, figures = prepare(str(store.root), run)
    store.touch(run)  # viewing a run uses it: eviction removes the least recently used first
    render(run, StatusView.of(store.status(run)), loaded, figures)
except UserError as exc:
    show_error(exc)
