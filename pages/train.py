"""Train: choose prices and settings, submit one run, watch it learn live, open its results.

The page never trains: it hands a RunSpec to core.jobs and then only reads the run store, so
a refresh, a second tab or a closed laptop lid does not lose the run.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from core import data, dataset, evaluation, jobs, models, plots
from core.config import (
    ACTIVATIONS,
    CELLS,
    FEATURES,
    OPTIMIZERS,
    TARGETS,
    DataSpec,
    ModelSpec,
    RunSpec,
    TrainSpec,
    widget,
)
from core.errors import UserError
from core.fmt import num as _fmt
from core.record_views import MetricsRowView, StatusView, SummaryView, TestMetrics
from core.records import RunState
from core.runs import RunStore
from pages.lib import results_data
from pages.lib.sources import data_source  # shared with Compare
from pages.lib.ui import (
    RESULTS_PAGE,
    cell_color,
    cell_name,
    get_store,
    may_manage,
    show_error,
    through_router,
)

through_router()  # first: a fresh server's deep link must run app.py

RUN_KEY = "train_run_id"  # the run this page is showing, kept across reruns
CACHED_KEY = "train_cached"
SCROLL_KEY = "train_scroll"  # set by a Train click: scroll the live view into sight once
# The live view. Each fragment rerun costs Streamlit ~60 ms of server CPU and as much in the
# browser: polled four times a second, they took half of a 2-core box from the training
# beside them (docs/BENCHMARKS.md, "Time to result"). So one fragment run every LIVE_EVERY_S
# watches the run for WATCH_S: two stat calls every CHECK_S, the bar redrawn in place (a
# delta, not a rerun) when the run's files change, at most every MIN_REDRAW_S and at least
# every REDRAW_S, and the final view drawn in its place as soon as the run has ended (a full
# rerun of the page cost ~0.15 s on the server and 0.3-0.5 s in the browser).
LIVE_EVERY_S, WATCH_S = 2.0, 1.5
CHECK_S, MIN_REDRAW_S, REDRAW_S = 0.05, 0.25, 0.5
TARGET_LABELS = {"return": "next-day log return", "price": "scaled price level (easy to fool)"}


def settings_form() -> tuple[bool, dict, dict, dict]:
    """Everything but the prices, in one form so nothing reruns until it is submitted."""
    with st.form("train_form"):
        c1, c2, c3 = st.columns(3)
        with c1:
            st.markdown("**Data**")
            d = dict(
                target=st.selectbox(
                    "Target", TARGETS, format_func=TARGET_LABELS.get, key="train_target"
                ),
                features=tuple(
                    st.multiselect("Features", FEATURES, default=["close"], key="train_features")
                ),
                lookback=st.number_input(
                    "Lookback (days)", **widget("lookback"), key="train_lookback"
                ),
            )
        with c2:
            st.markdown("**Model**")
            m = dict(
                cell=st.selectbox("Cell", CELLS, format_func=cell_name, key="train_cell"),
                layers=st.number_input("Layers", **widget("layers"), key="train_layers"),
                units=st.number_input("Units per layer", **widget("units"), key="train_units"),
                dropout=st.slider("Input dropout", **widget("dropout"), key="train_dropout"),
                unit_forget_bias=st.checkbox(
                    "Forget-gate bias 1 (LSTM)", value=True, key="train_forget_bias"
                ),
            )
            m.update(_gpu_fields())
        with c3:
            st.markdown("**Training**")
            t = _train_fields()
        submitted = st.form_submit_button("Train", type="primary", key="train_submit")
    return submitted, d, m, t


def _gpu_fields() -> dict:
    """Choices that change how a GPU runs the cell; the preview says when one costs cuDNN."""
    with st.expander("GPU options"):
        return dict(
            recurrent_dropout=st.slider(
                "Recurrent dropout (turns off cuDNN)",
                **widget("recurrent_dropout"),
                key="train_rec_dropout",
            ),
            activation=st.selectbox(
                "Activation (tanh keeps cuDNN)", ACTIVATIONS, key="train_activation"
            ),
        )


def _train_fields() -> dict:
    t = dict(
        optimizer=st.selectbox("Optimizer", OPTIMIZERS, key="train_optimizer"),
        learning_rate=st.number_input("Learning rate", **widget("learning_rate"), key="train_lr"),
        batch_size=st.number_input("Batch size", **widget("batch_size"), key="train_batch"),
        epochs=st.number_input("Epochs", **widget("epochs"), key="train_epochs"),
    )
    # One field, not a checkbox beside a number: inside the form a number could not be
    # greyed out while clipping is off, and it looked as if it acted.
    clipnorm = st.number_input(
        "Gradient clipping: max norm (0 = off)", **widget("clipnorm"), key="train_clipnorm",
        help="Rescale the global gradient when its norm exceeds this; 1 is a common choice.",
    )  # fmt: skip
    t["clipnorm"] = float(clipnorm) if clipnorm > 0 else None
    t["patience"] = st.number_input(
        "Early-stopping patience (0 = off)", **widget("patience"), key="train_pat"
    )
    t["seed"] = st.number_input("Seed", **widget("seed"), key="train_seed")
    t["mixed_precision"] = st.checkbox(
        "Mixed precision (GPU only)",
        key="train_mixed",
        help="float16 arithmetic on a GPU; ignored on the CPU.",
    )
    return t


def build_spec(source: dict, d: dict, m: dict, t: dict) -> RunSpec:
    return RunSpec(
        data=DataSpec(**source, **d), model=ModelSpec(**m), train=TrainSpec(**t)
    ).validate()


def preview(prices: pd.DataFrame, spec: RunSpec) -> None:
    """The chosen prices with the train/val/test split the run will use shaded."""
    bounds = dataset.split_bounds(prices, spec.data)
    title = f"{spec.data.ticker}: {len(prices):,} days, split train | val | test"
    st.plotly_chart(
        plots.price_chart(data.price_series(prices), bounds, title), key="train_preview"
    )
    for note in prices.attrs.get("notes", []):
        st.caption(note)
    ok, reasons = models.cudnn_eligible(spec.model)
    if not ok:
        st.info("On a GPU this run would not use the fused cuDNN kernel: " + "; ".join(reasons))


def submit(spec: RunSpec, prices: pd.DataFrame) -> None:
    submitted = jobs.submit(spec, prices)
    st.session_state[RUN_KEY] = submitted.run_id
    st.session_state[CACHED_KEY] = bool(submitted.cached)
    st.session_state[SCROLL_KEY] = True  # bring the live view into sight after the click


def _eta(status: StatusView, rows: list[dict]) -> str:
    """Time left from the steady-state epochs only: the first one includes compiling."""
    epoch, epochs = status.epoch or len(rows), status.epochs or 0
    seconds = (MetricsRowView.of(r).seconds for r in rows[1:])
    steady = [s for s in seconds if s is not None]
    if not epochs or epoch >= epochs:
        return ""
    if not steady:
        return " · time left known after the second epoch"
    left = (epochs - epoch) * sum(steady) / len(steady)
    return f" · at most {left:.0f} s left (early stopping may end it sooner)"


def progress_text(status: StatusView, rows: list[dict]) -> tuple[float, str]:
    """The live bar: fraction done and what is happening (phase, epoch, batch, time left)."""
    if status.state is RunState.QUEUED:
        return 0.0, "Queued: waiting for a free worker…"
    epoch, epochs = status.epoch or len(rows), status.epochs or 0
    phase = status.phase or "starting a worker"
    batch, batches = status.batch, status.batches
    inside = status.batch_epoch == epoch + 1 and batch is not None and bool(batches)
    done = epoch + (batch / batches if inside and batch and batches else 0.0)
    frac = min(done / epochs, 1.0) if epochs else 0.0
    where = f"Epoch {epoch + 1 if inside else epoch}/{epochs or '?'}"
    if inside:
        where += f" · batch {batch}/{batches}"
    return frac, f"{phase[:1].upper()}{phase[1:]} · {where}{_eta(status, rows)}"


def _cancel_button(run_id: str) -> None:
    if st.button("Cancel", key="train_cancel"):
        if not may_manage(run_id):  # login on: someone else's run (a shared cache hit)
            st.error("This run belongs to someone else: only its owner or an admin may cancel it.")
            return
        jobs.cancel(run_id)
        st.rerun()


def _scroll_into_view() -> None:
    """Once after the Train click: the live view scrolls into sight (a fixed script, no
    user text; the page's own anchor id)."""
    if st.session_state.pop(SCROLL_KEY, False):
        components.html(
            "<script>const el = window.parent.document.getElementById('live-run');"
            "if (el) el.scrollIntoView({behavior: 'smooth', block: 'start'});</script>",
            height=0,
        )


def _curves(rows: list[dict], cell: str, where: str = "final") -> None:
    # where: "live" or "final", whose curves can both be drawn in one fragment run
    left, right = st.columns(2)
    left.plotly_chart(plots.loss_chart(rows, color=cell_color(cell)), key=f"{where}_loss")
    right.plotly_chart(plots.grad_norm_chart(rows), key=f"{where}_grad")


@st.fragment(run_every=LIVE_EVERY_S)
def live_view(run_id: str, cell: str) -> None:
    """The bar (phase, epoch, batch, time left), Cancel and the curves; then the run is
    watched for WATCH_S (see LIVE_EVERY_S). The moment it ends, its final view replaces
    them in place; the next fragment run reruns the page once, which ends these runs."""
    store = get_store()
    if not StatusView.of(store.status(run_id)).is_active:
        st.rerun()  # ended (and shown in place) since the last run: settle the page
    slot = st.empty()
    with slot.container():
        bar = st.empty()
        _cancel_button(run_id)
        _curves(store.metrics(run_id), cell, "live")  # every LIVE_EVERY_S: epochs are 0.1-0.5 s
    ended = _watch(store, run_id, bar)
    if ended is not None:  # not a full rerun: the page around it stays as it is
        with slot.container():
            final_view(run_id, cell, ended)
        if ended.state is RunState.DONE:
            prepare_results(run_id)


def _watch(store: RunStore, run_id: str, bar: Any) -> StatusView | None:
    """Redraw the bar when the run's files change, for WATCH_S; the run's status the moment
    it is no longer active (at most CHECK_S after its last status write), else None."""
    end = time.monotonic() + WATCH_S
    seen, drawn = None, 0.0
    while True:
        now = time.monotonic()
        stamp = store.stamp(run_id)
        # Also every REDRAW_S unchanged: a worker killed -9 writes nothing (status() reads
        # its pid), and the redraw is where a Cancel click or a page switch takes over.
        if stamp != seen or now - drawn >= REDRAW_S:
            status = StatusView.of(store.status(run_id))
            if not status.is_active:
                return status
            if now - drawn >= MIN_REDRAW_S:
                bar.progress(*progress_text(status, store.metrics(run_id)))
                seen, drawn = stamp, now
        if now >= end:
            return None
        time.sleep(CHECK_S)


def _summary_metrics(summary: SummaryView, run_id: str) -> None:
    m = summary.metrics
    if m.raw:  # a run stored before the verdicts gets them from its predictions (read only then)
        m = TestMetrics.of(evaluation.with_verdicts(m.raw, get_store().predictions(run_id)))
    skill = m.skill
    words, color = evaluation.badge(skill, m.dm_p_value)
    base = m.direction_baseline
    cols = st.columns(5)
    cols[0].metric("Test RMSE (price)", _fmt(m.rmse))
    cols[1].metric("Naive RMSE", _fmt(m.naive_rmse))
    cols[2].metric(
        "Skill vs naive",
        _fmt(skill, "{:+.3f}"),
        delta=words,
        delta_color=color,  # type: ignore[arg-type]
        delta_arrow={"green": "up", "red": "down"}.get(color, "off"),  # type: ignore[arg-type]
    )
    cols[3].metric(
        "Direction right",
        _fmt(m.directional_accuracy, "{:.1%}"),
        delta=None if base is None else f"majority direction {base:.1%}",
        delta_color="gray",
        delta_arrow="off",
    )
    cols[4].metric("Train time", _fmt(summary.train_seconds, "{:.1f} s"))
    if m.verdict_vs_naive:
        st.caption(f"Against tomorrow = today on the test split: {m.verdict_vs_naive}.")


def final_view(run_id: str, cell: str, status: StatusView) -> None:
    store = get_store()
    state = status.state
    if state is RunState.DONE:
        if st.session_state.get(CACHED_KEY):
            st.success("Served from the run store: trained before, so nothing was retrained.")
        else:
            st.success("Training finished.")
        _summary_metrics(SummaryView.of(store.summary(run_id)), run_id)
    elif state is RunState.DIVERGED:
        st.warning(
            "Training diverged (the loss became NaN or infinite): lower the learning "
            "rate or turn on gradient clipping."
        )
    elif state is RunState.CANCELLED:
        st.warning("This run was cancelled.")
    else:
        st.error(f"Training failed: {status.error or 'no reason recorded'}")
    _curves(store.metrics(run_id), cell)
    st.page_link(
        RESULTS_PAGE,
        label="Open in Results",
        query_params={"run": run_id},
        icon=":material/analytics:",
    )


def current_run() -> str | None:
    """The live or final view of this session's run; returns its id once it is done."""
    run_id = st.session_state.get(RUN_KEY)
    if not run_id:
        return None
    st.subheader(f"Run {run_id}", anchor="live-run")
    _scroll_into_view()
    store = get_store()
    try:
        cell = store.spec(run_id).model.cell
    except (ValueError, TypeError, KeyError):  # a damaged spec.json still shows its status
        cell = "lstm"
    status = StatusView.of(store.status(run_id))
    if status.is_active:
        live_view(run_id, cell)
        return None
    final_view(run_id, cell, status)
    return run_id if status.state is RunState.DONE else None


def prepare_results(run_id: str) -> None:
    """Last in the script, once everything is sent: build the run's Results data and figures
    into Results' caches, so its "Open in Results" link lands on a page that only draws."""
    with contextlib.suppress(UserError):  # Results itself says what is wrong
        results_data.prepare(str(get_store().root), run_id)


st.title("Train a model")
try:
    chosen = data_source("train")
except UserError as exc:
    show_error(exc)
    st.stop()
if chosen is None:  # waiting for a CSV upload; the source widgets say so
    st.stop()
prices, source_fields = chosen
submitted, d, m, t = settings_form()
try:
    spec = build_spec(source_fields, d, m, t)
except UserError as exc:
    show_error(exc)
    spec = None
if spec is not None and submitted:
    try:  # before anything is drawn: the worker starts while the page renders
        submit(spec, prices)
    except UserError as exc:
        show_error(exc)
# The preview sits above the run on the page but is sent after it: the browser shows the run
# ("Training finished.", its metrics) without first redrawing 2,000 prices.
preview_slot = st.container()
finished = current_run()
if spec is not None and prices is not None:  # a memory task has no prices to preview
    with preview_slot:
        try:
            preview(prices, spec)
        except UserError as exc:
            show_error(exc)
if finished:
    prepare_results(finished)
