"""Results' charts: the training curves, and the secondary views in lazy tabs (gradients
through time, spectral radius, errors vs naive, the spec and downloads)."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from core.errors import UserError
from core.record_rows import RecordView
from pages.lib.results_data import RunFiles
from pages.lib.ui import get_store, plain

TAB_KEY = "results_tab"
TABS = ("Gradients through time", "Spectral radius", "Errors vs naive", "Spec and downloads")
# Shown with st.latex (rendered by KaTeX), never as raw text in a caption.
GTT_FORMULA = (
    r"g_k = \operatorname{mean}_{\text{probe batch}} \lVert \partial L / \partial x_{T-1-k} \rVert"
)


def training_charts(data: RunFiles, figs: dict[str, Any]) -> None:
    left, right = st.columns(2)
    left.plotly_chart(figs["loss"], key="res_loss")
    right.plotly_chart(figs["grad_norm"], key="res_grad_norm")
    clipped = [r.clipped_fraction for r in data.rows if r.clipped_fraction is not None]
    if clipped and max(clipped) > 0:
        st.caption(f"Gradient clipping acted on up to {max(clipped):.0%} of an epoch's steps.")


def single_epoch_choice(figs: dict[str, Any], data: RunFiles) -> Any:
    """The single-epoch chart: the kept weights by default, the last epoch on request."""
    label = data.kept_label
    if figs.get("gtt_kept") is None:
        st.caption(f"This run recorded no probe of the {label}: {_last_instead(data)}")
        return figs["gtt_last"]
    options = [label, "last epoch"]
    which = st.radio("Single-epoch chart", options, horizontal=True, key="res_gtt_which")
    return figs["gtt_kept"] if which == label else figs["gtt_last"]


def _last_instead(data: RunFiles) -> str:
    last = data.gtt.epochs[-1] if data.gtt.epochs and data.gtt.norms else None
    if last is None:
        return "nor of any epoch."
    kept = data.kept_epoch
    if kept is None:
        return f"the right-hand chart shows the last epoch probed ({last})."
    return f"the right-hand chart shows the last epoch probed ({last}), not epoch {kept}."


def gradient_charts(figs: dict[str, Any], data: RunFiles) -> None:
    chosen = single_epoch_choice(figs, data)
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


def settings_list(rid: str, record: RecordView) -> None:
    """The run's settings as three short lists in words, with the dates it really used; the
    raw JSON is the download beside it."""
    from core.periods import run_period
    from core.spec_words import spec_sections

    bounds = None
    dated = record.setting("data", "start") and record.setting("data", "end")
    if record.setting("data", "source") == "sample" and not dated:
        bounds = _bundled_bounds(str(record.setting("data", "ticker")))
    sections = spec_sections(record.raw, run_period(get_store().root, rid), bounds)
    for col, (title, lines) in zip(st.columns(len(sections)), sections.items(), strict=True):
        col.markdown(f"**{title}**")
        col.markdown("\n".join(f"- {label}: {plain(str(value))}" for label, value in lines))
    versions = ", ".join(f"{k} {v}" for k, v in record.versions.items())
    fingerprint = (record.data_fingerprint or "?")[:16]
    st.caption(plain(f"Data fingerprint {fingerprint}… · {versions}"))


def downloads(rid: str, data: RunFiles) -> None:
    cols = st.columns(3)
    pred, record = data.pred, data.record
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
        if data.has_model:
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
            lambda: json.dumps(record.raw, indent=1, sort_keys=True),
            f"{rid}_spec.json",
            "application/json",
            key="res_dl_spec",
            on_click="ignore",
        )


def secondary(rid: str, data: RunFiles, figs: dict[str, Any]) -> None:
    """Lazy tabs: only the open one runs, so hidden charts and the spec table cost nothing
    until asked for (on_change="rerun" makes ``.open`` say which tab is shown)."""
    for label, tab in zip(TABS, st.tabs(TABS, key=TAB_KEY, on_change="rerun"), strict=True):
        if tab.open:
            with tab:
                _tab_body(label, rid, data, figs)


def _tab_body(label: str, rid: str, data: RunFiles, figs: dict[str, Any]) -> None:
    if label == "Gradients through time":
        gradient_charts(figs, data)
    elif label == "Spectral radius":
        spectral_charts(figs, data.cell)
    elif label == "Errors vs naive" and figs.get("residuals") is None:
        st.info("No predictions yet: errors appear when training finishes.")
    elif label == "Errors vs naive":
        left, right = st.columns(2)
        left.plotly_chart(figs["errors"], key="res_errors")
        right.plotly_chart(figs["residuals"], key="res_resid")
    else:
        if data.record is not None and data.record.raw:
            settings_list(rid, data.record)
        downloads(rid, data)
