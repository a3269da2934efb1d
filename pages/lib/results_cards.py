"""Results' words and cards: the state banner, the run's facts, the metric cards beside the
naive forecast (or a memory task's training mean) and the lag check, all read from the run's
typed records (core/record_views.py)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import evaluation, phases
from core.fmt import num as _fmt
from core.record_views import StatusView, SummaryView, TestMetrics
from core.records import RunState
from pages.lib.results_data import RunFiles
from pages.lib.ui import plain

SKILL_HELP = (
    "1 − RMSE_model / RMSE_naive on test prices, tested with Diebold-Mariano (HLN, squared "
    "price errors) against tomorrow = today: green only when p < 0.05."
)


def state_banner(status: StatusView, data: RunFiles) -> None:
    state, error = status.state, status.error or "no reason recorded"
    epoch, epochs = status.epoch or 0, status.epochs or "?"
    if state is RunState.QUEUED:
        st.info("Queued: waiting for a free worker. Refresh to see epochs as they finish.")
    elif state is RunState.RUNNING:
        st.info(f"Training: epoch {epoch}/{epochs}. The charts show the epochs so far; refresh.")
    elif state is RunState.FAILED:
        st.error(f"This run failed: {error}. Check its settings and train it again on Train.")
    elif state is RunState.CANCELLED:
        st.warning(
            f"This run was cancelled after epoch {epoch}/{epochs}: train it again to finish."
        )
    elif state is RunState.DIVERGED:
        st.warning(
            "Training diverged: the loss became NaN or blew up, the exploding gradient problem. "
            "Train again with a lower learning rate or gradient clipping (clipnorm ≈ 1)."
        )
    elif state is RunState.DONE and not data.complete:
        st.error(
            "This run's files are damaged or incomplete (a checksum or file does not match): "
            "delete it on the Runs page and train it again."
        )
    elif state is not RunState.DONE:
        st.error(
            f"This run has no readable status ({status.state_text}): delete it on the Runs page."
        )
    for problem in data.problems:
        st.warning(f"{problem}: that part is not shown.")


def _error_card(
    col: Any, label: str, value: float | None, naive: float | None, pattern: str, kind: str
) -> None:
    """Lower is better. The delta's colour follows the DM verdict against naive (kind from
    evaluation.outcome): green only for a significant win, red for a significant loss,
    gray for noise and for an exact zero."""
    delta, color = None, "gray"
    if value is not None and naive is not None:
        diff = value - naive
        delta = pattern.replace("{:", "{:+").format(diff) + " vs naive"
        if diff != 0 and kind in ("win", "loss"):
            color = "green" if kind == "win" else "red"
    col.metric(
        label,
        _fmt(value, pattern),
        delta=delta,
        delta_color=color,
        delta_arrow="off" if delta is None or color == "gray" else "auto",
        help=f"Naive (tomorrow = today): {_fmt(naive, pattern)}",
    )


def _direction_card(col: Any, m: TestMetrics) -> None:
    """Directional accuracy against always-the-majority-direction, not a coin flip."""
    da, base, p = m.directional_accuracy, m.direction_baseline, m.direction_p_value
    delta, color = None, "gray"
    if da is not None and base is not None:
        delta = f"{(da - base) * 100:+.1f} pts vs majority ({base:.1%})"
        if p is not None and p < evaluation.ALPHA and da != base:
            color = "green" if da > base else "red"
    col.metric(
        "Directional accuracy",
        _fmt(da, "{:.1%}"),
        delta=delta,
        delta_color=color,
        delta_arrow="off" if color == "gray" else "auto",
        help="Share of test days whose predicted return has the right sign. The fair reference "
        "is always calling the majority direction of the test days (always up on a rising "
        f"market), not a coin flip; binomial test against it: {evaluation.format_p(p)}.",
    )


def metric_cards(m: TestMetrics) -> None:
    kind = evaluation.outcome(m.skill, m.dm_p_value)
    cols = st.columns(5)
    _error_card(cols[0], "RMSE", m.rmse, m.naive_rmse, "{:.2f}", kind)
    _error_card(cols[1], "MAE", m.mae, m.naive_mae, "{:.2f}", kind)
    _error_card(cols[2], "MAPE", m.mape, m.naive_mape, "{:.3f}%", kind)
    _direction_card(cols[3], m)
    words, color = evaluation.badge(m.skill, m.dm_p_value)
    verdict = m.verdict_vs_naive
    # st.metric cuts a long delta at the column's edge: the badge stays short, the whole
    # sentence is in the help and the caption below.
    cols[4].metric(
        "Skill vs naive",
        _fmt(m.skill, "{:+.4f}"),
        delta=words,
        delta_color=color,  # type: ignore[arg-type]
        delta_arrow={"green": "up", "red": "down"}.get(color, "off"),  # type: ignore[arg-type]
        help=SKILL_HELP + (f" This run: {verdict}." if verdict else ""),
    )
    st.caption(
        f"**Against tomorrow = today:** {verdict or '—'}. "
        f"Naive baseline on the same {m.n if m.n is not None else '?'} test days: RMSE "
        f"{_fmt(m.naive_rmse, '{:.2f}')} · MAE {_fmt(m.naive_mae, '{:.2f}')} · "
        f"MAPE {_fmt(m.naive_mape, '{:.3f}%')} · return RMSE "
        f"{_fmt(m.naive_return_rmse, '{:.5f}')} (model {_fmt(m.return_rmse, '{:.5f}')})"
    )


def lag_words(m: TestMetrics) -> None:
    lc = m.lag_check
    if lc.gap is None or lc.corr_today is None or lc.corr_yesterday is None:
        st.info("Lag check unavailable: the predictions are constant on the test split.")
    elif lc.gap > 0:
        st.warning(
            f"Lag check: the predictions follow **yesterday's** price (corr "
            f"{lc.corr_yesterday:.4f}) more closely than the day they forecast (corr "
            f"{lc.corr_today:.4f}). The model mostly echoes yesterday: the naive forecast in "
            "disguise, however close the lines look."
        )
    else:
        st.success(
            f"Lag check: the predictions follow the forecast day (corr {lc.corr_today:.4f}) at "
            f"least as closely as yesterday's price (corr {lc.corr_yesterday:.4f}): not a mere "
            "echo of yesterday."
        )
    if m.skill is not None and m.skill <= 0:
        st.warning("On the test split this model does not beat tomorrow = today (skill ≤ 0).")


def task_cards(m: TestMetrics) -> None:
    """A memory task's cards: error against the training-mean baseline, skill, horizon."""
    cols = st.columns(3)
    cols[0].metric(
        "MSE",
        _fmt(m.mse, "{:.4f}"),
        delta=_fmt(m.baseline_mse, "baseline {:.4f}"),
        delta_color="gray",
        delta_arrow="off",
        help="Mean squared error on the test samples; the baseline predicts the training mean.",
    )
    cols[1].metric(
        "Skill vs training mean",
        _fmt(m.skill, "{:+.3f}"),
        help="1 − MSE_model / MSE_baseline on the test samples; the baseline predicts the "
        "training targets' mean. 1 = perfect recall, 0 = no better than the mean.",
    )
    cols[2].metric("Test samples", _fmt(m.n, "{:,}"))


def run_facts(status: StatusView, summary: SummaryView) -> None:
    """Where and how fast it trained: the device the worker recorded, time, throughput."""
    device = summary.device or status.device
    facts = [f"trained on {device}" if device else "device not recorded yet"]
    if summary.train_seconds is not None:
        facts.append(f"{summary.train_seconds:.1f} s")
    facts += phases.speed_facts(summary.raw)  # steady state and end to end, each labelled
    if summary.epochs_run:
        best = summary.best_epoch if summary.best_epoch is not None else "?"
        facts.append(f"{summary.epochs_run} epochs (best {best})")
    if summary.params:
        facts.append(f"{summary.params:,} parameters")
    if summary.mixed_precision:
        facts.append("mixed precision")
    if summary.wavefront:
        facts.append("layers run as one wavefront loop")
    if summary.found and not summary.cudnn_eligible:
        facts.append("no fused cuDNN kernel on a GPU")
    st.caption(plain(" · ".join(facts)))
    time_to_result(summary)


def time_to_result(summary: SummaryView) -> None:
    """Where the run's time went, from the click to the saved result (summary phases)."""
    if summary.phases:
        with st.expander(f"Time to result: {summary.total_seconds:.1f} s, phase by phase"):
            st.caption(plain(phases.describe(summary.phases)))
            if (how := summary.compile.words()) is not None:
                st.caption(plain(f"The training step: {how}."))
