"""Compare page figures: gradients through time as mean ± std over seeds, each cell's test
errors beside the naive forecast's, and skill per walk-forward fold."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.plotkit import (
    NEUTRAL,
    add_line,
    base_figure,
    cell_color,
    cell_name,
    days,
    empty_figure,
    f32,
    fit_top,
    log_axis,
    positive,
    spanning,
)
from core.plots_training import GTT_TITLE

if TYPE_CHECKING:
    import pandas as pd

NAIVE = "naive (tomorrow = today)"


def _rgba(color: str, alpha: float) -> str:
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def gtt_norms(gtt: dict | None, which: str = "kept") -> list[float] | None:
    """One run's gradient-through-time row: the kept weights' probe when recorded (and
    which == 'kept'), else the last epoch's."""
    gtt = gtt or {}
    kept = (gtt.get("kept") or {}).get("norms")
    if which == "kept" and kept:
        return list(kept)
    norms = gtt.get("norms") or []
    return list(norms[-1]) if norms else None


def gtt_band(per_cell: dict[str, list[list[float]]], title: str) -> go.Figure:
    """Per cell: gₖ mean over seeds with a ± 1 std band, on a log axis (lags on x)."""
    fig = base_figure(title, "lag k (steps back)", GTT_TITLE, log_y=True)
    for cell, rows in per_cell.items():
        rows = [r for r in rows if r]
        if not rows:
            continue
        width = min(len(r) for r in rows)
        mat = np.array([r[:width] for r in rows], dtype=float)
        mean, std = mat.mean(axis=0), mat.std(axis=0)
        lags, color = np.arange(width), cell_color(cell)
        lower = np.where(mean - std > 0, mean - std, mean / 10)  # a log axis never reaches 0
        for y, fill in ((positive(mean + std), None), (positive(lower), "tonexty")):
            fig.add_trace(go.Scatter(x=lags, y=y, mode="lines", line=dict(width=0), fill=fill,
                                     fillcolor=_rgba(color, 0.2), showlegend=False,
                                     legendgroup=cell, hoverinfo="skip"))  # fmt: skip
        label = f"{cell_name(cell)} (n={len(rows)})"
        add_line(fig, lags, positive(mean), label, color, legendgroup=cell)
    return fit_top(log_axis(fig)) if fig.data else empty_figure(title)


def error_panels(forecasts: dict[str, pd.DataFrame], errors: str = "return") -> go.Figure:
    """One panel per cell: its seed-mean forecast's test errors (forecast − actual) as bars
    over the naive forecast's in gray, plus the running sum of (error² − naive error²):
    below zero the cell is ahead of tomorrow = today so far, above it behind."""
    from core.compare import errors_of

    title = f"Test errors per day, {errors}s: each cell beside the naive forecast"
    if not forecasts:
        return empty_figure(title)
    fig = make_subplots(rows=len(forecasts), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        specs=[[{"secondary_y": True}] for _ in forecasts],
                        subplot_titles=[cell_name(c) for c in forecasts])  # fmt: skip
    for i, (cell, fc) in enumerate(forecasts.items(), start=1):
        e_model, e_naive = errors_of(fc, errors)
        x, color = days(fc.index), cell_color(cell)
        fig.add_trace(go.Bar(x=x, y=f32(e_naive), name=NAIVE, marker_color=NEUTRAL,
                             opacity=0.5, showlegend=i == 1, legendgroup="naive"),
                      row=i, col=1)  # fmt: skip
        fig.add_trace(go.Bar(x=x, y=f32(e_model), name=cell_name(cell), marker_color=color,
                             opacity=0.8), row=i, col=1)  # fmt: skip
        gap = np.cumsum(e_model**2 - e_naive**2)
        fig.add_trace(go.Scatter(x=x, y=f32(gap), mode="lines", line=dict(color="black", width=1.5),
                                 name="running Σ(error² − naive error²)", showlegend=i == 1,
                                 legendgroup="gap"), row=i, col=1, secondary_y=True)  # fmt: skip
    fig.update_layout(title=title, barmode="overlay", bargap=0, height=220 * len(forecasts) + 80,
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      margin=dict(l=60, r=60, t=80, b=40))  # fmt: skip
    fig.update_yaxes(title_text="forecast − actual", secondary_y=False)
    # tiny squared-return sums: powers of ten (3×10⁻⁴), never Plotly's SI "300μ"
    fig.update_yaxes(
        title_text="Σ loss gap", secondary_y=True, showgrid=False, exponentformat="power"
    )
    return fig


def fold_skill_chart(fold_skill: dict[str, list[Any]], folds: list[dict]) -> go.Figure:
    """Skill against naive per walk-forward fold and cell (grouped bars): did one period
    carry the pooled verdict?"""
    title = "Skill vs naive per walk-forward fold (above 0: better than tomorrow = today)"
    if not fold_skill or not folds:
        return empty_figure(title)
    fig = base_figure(title, "test period", "skill")
    labels = [f"{f['test_start']} … {f['test_end']}" for f in folds]
    for cell, skills in fold_skill.items():
        y = [s if isinstance(s, (int, float)) else None for s in skills]
        fig.add_trace(go.Bar(x=labels, y=y, name=cell_name(cell), marker_color=cell_color(cell)))
    spanning(fig, "hline", 0, line=dict(color=NEUTRAL, dash="dot"))
    fig.update_layout(barmode="group")
    return fit_top(fig)


def mark_epoch(fig: go.Figure, epoch: Any, axis: str = "x", words: str = "best") -> go.Figure:
    """A dotted line at the best epoch (the weights early stopping restored and that the
    predictions, the metrics and model.keras come from); Results marks every epoch chart."""
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not fig.data:
        return fig
    line = dict(color=NEUTRAL, dash="dot", width=1)
    text = f"{words} epoch {epoch}"
    if axis == "x":
        # at the bottom, inside the plot: the legend row sits just above the plot's top edge
        spanning(fig, "vline", epoch, text, "bottom right", line=line)
    else:
        spanning(fig, "hline", epoch, text, "right", line=line)
    return fig
