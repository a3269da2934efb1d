"""Results: one run in full. Predictions beside the naive baseline, losses, gradients, spec.

Pick a run in the selector or open ?run=<id>. Everything shown is read from the run store;
reads and figures are cached per run id and modification time, so a finished run renders at
once and a running one shows its newest epochs on refresh. The headline (metric cards,
predictions, training curves, gradients through time) comes first; the secondary views sit in
tabs that build only when opened, so the browser draws five charts, not seven.
"""

from __future__ import annotations

import json
import os
from typing import Any

import streamlit as st

from core import evaluation, phases, plots, plots_compare
from core.config import check_run_id
from core.errors import UserError
from core.fmt import num as _fmt
from core.records import ACTIVE
from core.runs import RunStore
from pages.lib import words
from pages.lib.ui import (
    cell_badge,
    cell_color,
    empty_state,
    get_store,
    plain,
    run_label,
    show_error,
    with_periods,
)

KEY = "results_run"
TAB_KEY = "results_tab"
TABS = ("Gradients through time", "Spectral radius", "Errors vs naive", "Spec and downloads")
# Shown with st.latex (rendered by KaTeX), never as raw text in a caption.
GTT_FORMULA = (
    r"g_k = \operatorname{mean}_{\text{probe batch}} \lVert \partial L / \partial x_{T-1-k} \rVert"
)
HELP_PICK = "pick a run from the list below, or open one from the Runs page"


def _stamp(run_dir: Any) -> float:
    """Newest modification time in the run directory: the cache key of its contents."""
    try:
        with os.scandir(run_dir) as entries:
            return max((e.stat().st_mtime for e in entries), default=0.0)
    except FileNotFoundError:
        return 0.0


def _read(problems: list[str], name: str, reader: Any, *args: Any) -> Any:
    # A hand-edited or half-copied file must give a message, never a traceback.
    try:
        return reader(*args)
    except Exception as exc:  # any unreadable file is reported the same way
        problems.append(f"{name} could not be read ({type(exc).__name__})")
        return None


@st.cache_data(max_entries=16, show_spinner=False)
def load_run(root: str, run_id: str, stamp: float) -> dict[str, Any]:
    """Every artifact of one run; ``stamp`` (newest mtime) invalidates the cache on change."""
    store = RunStore(root)
    problems: list[str] = []
    return {
        "record": _read(problems, "spec.json", store.record, run_id),
        "metrics": _read(problems, "metrics.jsonl", store.metrics, run_id) or [],
        "gtt": _read(problems, "gradients_through_time.json", store.gradients_through_time, run_id),
        "pred": _read(problems, "predictions.parquet", store.predictions, run_id),
        "summary": _read(problems, "summary.json", store.summary, run_id),
        "complete": bool(_read(problems, "checksums", store.is_complete, run_id)),
        "has_model": store.model_path(run_id).exists(),
        "problems": problems,
    }


@st.cache_resource(max_entries=8, show_spinner=False)
def run_figures(root: str, run_id: str, stamp: float, cell: str) -> dict[str, Any]:
    """Every figure of one run, built once per (run, newest mtime) and shared, not copied, by
    every session: a rerun (a tab switch, a second visitor) only sends them."""
    data = load_run(root, run_id, stamp)
    rows, gtt, pred = data["metrics"], data["gtt"] or {}, data["pred"]
    best = (data.get("summary") or {}).get("best_epoch")
    norms = gtt.get("norms") or []
    epochs = gtt.get("epochs") or list(range(1, len(norms) + 1))
    last = {f"epoch {epochs[-1]}": (norms[-1], cell)} if norms and epochs else {}
    label, kept = kept_label(data), (gtt.get("kept") or {}).get("norms")
    mark = plots_compare.mark_epoch
    return {
        "pred": None if pred is None else plots.predictions_chart(pred, color=cell_color(cell)),
        "loss": mark(plots.loss_chart(rows, color=cell_color(cell)), best),
        "grad_norm": mark(plots.grad_norm_chart(rows), best),
        "gtt_heatmap": mark(plots.gtt_heatmap(gtt), best, axis="y"),
        "gtt_last": plots.gtt_lines(last, title="Gradient through time, last epoch"),
        "gtt_kept": _kept_figure(kept, label, cell),
        "spectral": mark(plots.spectral_chart(rows), best),
        "residuals": None if pred is None else plots.residual_hist(pred, color=cell_color(cell)),
        "errors": None if pred is None else plots.errors_chart(pred, color=cell_color(cell)),
    }


def _kept_figure(kept: list | None, label: str, cell: str) -> Any:
    if not kept:
        return None
    return plots.gtt_lines({label: (kept, cell)}, title=f"Gradient through time, {label}")


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


def _pick_run(runs: list[dict]) -> str:
    ids = [str(r["run_id"]) for r in runs]
    labels = {str(r["run_id"]): run_label(r) for r in with_periods(runs)}
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


def _state_banner(status: dict, data: dict) -> None:
    state, error = status.get("state"), status.get("error") or "no reason recorded"
    epoch, epochs = status.get("epoch") or 0, status.get("epochs") or "?"
    if state == "queued":
        st.info("Queued: waiting for a free worker. Refresh to see epochs as they finish.")
    elif state == "running":
        st.info(f"Training: epoch {epoch}/{epochs}. The charts show the epochs so far; refresh.")
    elif state == "failed":
        st.error(f"This run failed: {error}. Check its settings and train it again on Train.")
    elif state == "cancelled":
        st.warning(
            f"This run was cancelled after epoch {epoch}/{epochs}: train it again to finish."
        )
    elif state == "diverged":
        st.warning(
            "Training diverged: the loss became NaN or blew up, the exploding gradient problem. "
            "Train again with a lower learning rate or gradient clipping (clipnorm ≈ 1)."
        )
    elif state == "done" and not data.get("complete"):
        st.error(
            "This run's files are damaged or incomplete (a checksum or file does not match): "
            "delete it on the Runs page and train it again."
        )
    elif state != "done":
        st.error(f"This run has no readable status ({state}): delete it on the Runs page.")
    for problem in data.get("problems", []):
        st.warning(f"{problem}: that part is not shown.")


def _error_card(col: Any, label: str, value: Any, naive: Any, pattern: str, kind: str) -> None:
    """Lower is better. The delta's colour follows the DM verdict against naive (kind from
    evaluation.outcome): green only for a significant win, red for a significant loss,
    gray for noise and for an exact zero."""
    delta, color = None, "gray"
    if isinstance(value, (int, float)) and isinstance(naive, (int, float)):
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


def _direction_card(col: Any, m: dict) -> None:
    """Directional accuracy against always-the-majority-direction, not a coin flip."""
    da, base, p = (
        m.get("directional_accuracy"),
        m.get("direction_baseline"),
        m.get("direction_p_value"),
    )
    delta, color = None, "gray"
    if isinstance(da, (int, float)) and isinstance(base, (int, float)):
        delta = f"{(da - base) * 100:+.1f} pts vs majority ({base:.1%})"
        if isinstance(p, (int, float)) and p < evaluation.ALPHA and da != base:
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


def metric_cards(m: dict) -> None:
    dm = m.get("dm_vs_naive") or {}
    skill, p = m.get("skill"), dm.get("p_value")
    kind = evaluation.outcome(skill, p)
    cols = st.columns(5)
    _error_card(cols[0], "RMSE", m.get("rmse"), m.get("naive_rmse"), "{:.2f}", kind)
    _error_card(cols[1], "MAE", m.get("mae"), m.get("naive_mae"), "{:.2f}", kind)
    _error_card(cols[2], "MAPE", m.get("mape"), m.get("naive_mape"), "{:.3f}%", kind)
    _direction_card(cols[3], m)
    words, color = evaluation.badge(skill, p)
    cols[4].metric(
        "Skill vs naive",
        _fmt(skill, "{:+.4f}"),
        delta=words,
        delta_color=color,  # type: ignore[arg-type]
        delta_arrow={"green": "up", "red": "down"}.get(color, "off"),  # type: ignore[arg-type]
        help="1 − RMSE_model / RMSE_naive on test prices, tested with Diebold-Mariano "
        "(HLN, squared price errors) against tomorrow = today: green only when p < 0.05.",
    )
    verdict = m.get("verdict_vs_naive")
    st.caption(
        f"**Against tomorrow = today:** {verdict or '—'}. "
        f"Naive baseline on the same {m.get('n', '?')} test days: RMSE "
        f"{_fmt(m.get('naive_rmse'), '{:.2f}')} · MAE {_fmt(m.get('naive_mae'), '{:.2f}')} · "
        f"MAPE {_fmt(m.get('naive_mape'), '{:.3f}%')} · return RMSE "
        f"{_fmt(m.get('naive_return_rmse'), '{:.5f}')} (model {_fmt(m.get('return_rmse'), '{:.5f}')})"
    )


def lag_words(m: dict) -> None:
    lc = m.get("lag_check") or {}
    today, yesterday, gap = lc.get("corr_today"), lc.get("corr_yesterday"), lc.get("gap")
    if gap is None:
        st.info("Lag check unavailable: the predictions are constant on the test split.")
    elif gap > 0:
        st.warning(
            f"Lag check: the predictions follow **yesterday's** price (corr {yesterday:.4f}) more "
            f"closely than the day they forecast (corr {today:.4f}). The model mostly echoes "
            "yesterday: the naive forecast in disguise, however close the lines look."
        )
    else:
        st.success(
            f"Lag check: the predictions follow the forecast day (corr {today:.4f}) at least as "
            f"closely as yesterday's price (corr {yesterday:.4f}): not a mere echo of yesterday."
        )
    if isinstance(m.get("skill"), (int, float)) and m["skill"] <= 0:
        st.warning("On the test split this model does not beat tomorrow = today (skill ≤ 0).")


def training_charts(rows: list[dict], figs: dict[str, Any]) -> None:
    left, right = st.columns(2)
    left.plotly_chart(figs["loss"], key="res_loss")
    right.plotly_chart(figs["grad_norm"], key="res_grad_norm")
    clipped = [r.get("clipped_fraction") for r in rows if r.get("clipped_fraction") is not None]
    if clipped and max(clipped) > 0:
        st.caption(f"Gradient clipping acted on up to {max(clipped):.0%} of an epoch's steps.")


def kept_label(data: dict) -> str:
    """'weights kept (best epoch k)': the weights model.keras, the predictions and the
    metrics come from (early stopping restores the best epoch)."""
    gtt = data.get("gtt") or {}
    epoch = (gtt.get("kept") or {}).get("epoch") or (data.get("summary") or {}).get("best_epoch")
    return f"weights kept (best epoch {epoch})" if epoch is not None else "weights kept"


def single_epoch_choice(figs: dict[str, Any], data: dict) -> Any:
    """The single-epoch chart: the kept weights by default, the last epoch on request."""
    label = kept_label(data)
    if figs.get("gtt_kept") is None:
        st.caption(
            f"This run recorded no probe of the {label}: the right-hand chart shows the last "
            "epoch, whose weights the model did not keep when an earlier epoch was better."
        )
        return figs["gtt_last"]
    options = [label, "last epoch"]
    which = st.radio("Single-epoch chart", options, horizontal=True, key="res_gtt_which")
    return figs["gtt_kept"] if which == label else figs["gtt_last"]


def gradient_charts(figs: dict[str, Any], data: dict | None = None) -> None:
    chosen = single_epoch_choice(figs, data or {})
    st.latex(GTT_FORMULA)
    st.caption(
        "How much the loss still feels the input k steps before the last one. A steep fall "
        "on the log axis is the vanishing gradient."
    )
    left, right = st.columns(2)
    left.plotly_chart(figs["gtt_heatmap"], key="res_gtt_heatmap")
    right.plotly_chart(chosen, key="res_gtt_last")


def spectral_charts(figs: dict[str, Any], cell: str) -> None:
    st.plotly_chart(figs["spectral"], key="res_spectral")
    if cell == "rnn":
        st.caption(
            "For a SimpleRNN each step back multiplies the gradient by diag(1 − h²)·W: "
            "ρ(W) > 1 lets it grow, ρ < 1 shrinks it (with tanh's slope on top)."
        )
    else:
        st.caption(
            "For an LSTM or GRU these are the gate blocks of the recurrent kernel; they "
            "do not set the gradient's fate through time. The forget/update gate does: "
            "see the step factor and gate means above."
        )


@st.cache_data(show_spinner=False)
def _bundled_bounds(ticker: str) -> tuple[str, str] | None:
    """First and last day of a bundled file: what a spec's empty start/end meant."""
    from core import data

    try:
        prices = data.load_prices(source="sample", ticker=ticker)
    except UserError:
        return None
    return f"{prices.index[0]:%Y-%m-%d}", f"{prices.index[-1]:%Y-%m-%d}"


def settings_list(rid: str, record: dict) -> None:
    """The run's settings as three short lists in words, with the dates it really used; the
    raw JSON is the download beside it."""
    from core.periods import run_period
    from core.spec_words import spec_sections

    data_spec = (record.get("spec") or {}).get("data") or {}
    bounds = None
    if data_spec.get("source") == "sample" and not (
        data_spec.get("start") and data_spec.get("end")
    ):
        bounds = _bundled_bounds(str(data_spec.get("ticker")))
    sections = spec_sections(record, run_period(get_store().root, rid), bounds)
    for col, (title, lines) in zip(st.columns(len(sections)), sections.items(), strict=True):
        col.markdown(f"**{title}**")
        col.markdown("\n".join(f"- {label}: {plain(str(value))}" for label, value in lines))
    versions = ", ".join(f"{k} {v}" for k, v in (record.get("versions") or {}).items() if v)
    fingerprint = str(record.get("data_fingerprint", "?"))[:16]
    st.caption(plain(f"Data fingerprint {fingerprint}… · {versions}"))


def downloads(rid: str, data: dict) -> None:
    cols = st.columns(3)
    pred, record = data.get("pred"), data.get("record")
    if pred is not None:
        cols[0].download_button(
            "Predictions (CSV)",
            lambda: pred.to_csv(index=False),  # built on a click, not on every rerun
            f"{rid}_predictions.csv",
            "text/csv",
            key="res_dl_pred",
            on_click="ignore",
        )
    if not get_store().model_path(rid).is_file():  # live: the cached data may predate a delete
        if data.get("has_model"):
            cols[1].caption("The model file is gone (deleted elsewhere): nothing to download.")
    else:
        # A callable: the model's bytes are read only when someone clicks.
        cols[1].download_button(
            "Model (.keras)",
            get_store().model_path(rid).read_bytes,
            f"{rid}.keras",
            "application/octet-stream",
            key="res_dl_model",
            on_click="ignore",
        )
    if record is not None:
        cols[2].download_button(
            "Spec (JSON)",
            lambda: json.dumps(record, indent=1, sort_keys=True),
            f"{rid}_spec.json",
            "application/json",
            key="res_dl_spec",
            on_click="ignore",
        )


def headline(data: dict, status: dict, figs: dict[str, Any]) -> None:
    """Metric cards and the lag check first (text draws at once), then the predictions."""
    summary = data.get("summary") or {}
    metrics = summary.get("metrics") if isinstance(summary.get("metrics"), dict) else {}
    st.subheader("Predictions")
    if metrics.get("baseline") == "training mean":  # a memory task: no prices, no naive day
        task_cards(metrics, summary)
    elif metrics:
        metrics = evaluation.with_verdicts(metrics, data.get("pred"))  # old runs: on the fly
        metric_cards(metrics)
        lag_words(metrics)
    elif data.get("pred") is None and status.get("state") in ACTIVE:
        st.info("No predictions yet: they are written when training finishes.")
    if figs.get("pred") is not None:
        st.plotly_chart(figs["pred"], key="res_pred")
        st.caption(
            "Daily prices move little from one day to the next, so the three lines nearly "
            "coincide at this scale: the Errors vs naive tab below sets the model's errors "
            "beside the naive forecast's."
        )


def secondary(rid: str, data: dict, figs: dict[str, Any]) -> None:
    """Lazy tabs: only the open one runs, so hidden charts and the spec table cost nothing
    until asked for (on_change="rerun" makes ``.open`` say which tab is shown)."""
    for label, tab in zip(TABS, st.tabs(TABS, key=TAB_KEY, on_change="rerun"), strict=True):
        if tab.open:
            with tab:
                _tab_body(label, rid, data, figs)


def _tab_body(label: str, rid: str, data: dict, figs: dict[str, Any]) -> None:
    if label == "Gradients through time":
        gradient_charts(figs, data)
    elif label == "Spectral radius":
        spectral_charts(figs, run_cell(data))
    elif label == "Errors vs naive" and figs.get("residuals") is None:
        st.info("No predictions yet: errors appear when training finishes.")
    elif label == "Errors vs naive":
        left, right = st.columns(2)
        left.plotly_chart(figs["errors"], key="res_errors")
        right.plotly_chart(figs["residuals"], key="res_resid")
    else:
        if data.get("record"):
            settings_list(rid, data["record"])
        downloads(rid, data)


def run_facts(status: dict, data: dict) -> None:
    """Where and how fast it trained: the device the worker recorded, time, throughput."""
    summary = data.get("summary") or {}
    device = summary.get("device") or status.get("device")
    facts = [f"trained on {device}" if device else "device not recorded yet"]
    if isinstance(summary.get("train_seconds"), (int, float)):
        facts.append(f"{summary['train_seconds']:.1f} s")
    facts += phases.speed_facts(summary)  # steady state and end to end, each labelled
    if summary.get("epochs_run"):
        facts.append(f"{summary['epochs_run']} epochs (best {summary.get('best_epoch', '?')})")
    if summary.get("params"):
        facts.append(f"{summary['params']:,} parameters")
    if summary.get("mixed_precision"):
        facts.append("mixed precision")
    if summary.get("wavefront"):
        facts.append("layers run as one wavefront loop")
    if summary and not summary.get("cudnn_eligible", True):
        facts.append("no fused cuDNN kernel on a GPU")
    st.caption(plain(" · ".join(facts)))
    time_to_result(summary)


def time_to_result(summary: dict) -> None:
    """Where the run's time went, from the click to the saved result (summary phases)."""
    spent = summary.get("phases")
    if isinstance(spent, dict) and spent:
        total = sum(v for v in spent.values() if isinstance(v, (int, float)))
        with st.expander(f"Time to result: {total:.1f} s, phase by phase"):
            st.caption(plain(phases.describe(spent)))


def task_cards(m: dict, summary: dict) -> None:
    """A memory task's cards: error against the training-mean baseline, skill, horizon."""
    cols = st.columns(3)
    base = m.get("baseline_mse")
    cols[0].metric(
        "MSE",
        _fmt(m.get("mse"), "{:.4f}"),
        delta=_fmt(base, "baseline {:.4f}"),
        delta_color="gray",
        delta_arrow="off",
        help="Mean squared error on the test samples; the baseline predicts the training mean.",
    )
    cols[1].metric(
        "Skill vs training mean",
        _fmt(m.get("skill"), "{:+.3f}"),
        help="1 − MSE_model / MSE_baseline on the test samples; the baseline predicts the "
        "training targets' mean. 1 = perfect recall, 0 = no better than the mean.",
    )
    cols[2].metric("Test samples", _fmt(m.get("n"), "{:,}"))


def render(rid: str, status: dict, data: dict, figs: dict[str, Any]) -> None:
    cell_badge(run_cell(data))
    run_facts(status, data)
    _state_banner(status, data)
    headline(data, status, figs)
    words.run_words(data.get("record"), data.get("summary"), data.get("gtt"))
    st.subheader("Training")
    training_charts(data.get("metrics") or [], figs)
    st.subheader("Gradients and details")
    secondary(rid, data, figs)


def run_cell(data: dict) -> str:
    record = data.get("record") or {}
    return ((record.get("spec") or {}).get("model") or {}).get("cell", "lstm")


st.title("Results")
try:
    store = get_store()
    runs = store.list_runs()
except UserError as exc:
    show_error(exc)
    st.stop()
if not runs:
    empty_state("No runs yet: train one, then its results appear here.")
    st.stop()
run = _pick_run(runs)
try:
    root, stamp = str(store.root), _stamp(store.run_dir(run))
    loaded = load_run(root, run, stamp)
    store.touch(run)  # viewing a run uses it: eviction removes the least recently used first
    render(run, store.status(run), loaded, run_figures(root, run, stamp, run_cell(loaded)))
except UserError as exc:
    show_error(exc)
