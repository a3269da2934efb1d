"""Figures as pure functions: data in, plotly ``go.Figure`` out; no streamlit, no keras.

Every function accepts empty input and then returns a figure that says "no data yet"
instead of raising, so a page can render a run that is still queued. Backgrounds are
transparent and text colours are left to the template, so figures read in light and
dark themes alike.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.plotkit import (
    CELL_COLORS,
    CELL_NAMES,
    DASHES,
    LAYER_COLORS,
    NEUTRAL,
    NO_DATA,
    SPLIT_COLORS,
    TRAIN_EVERY,
    add_line,
    base_figure,
    cell_color,
    cell_name,
    days,
    empty_figure,
    f32,
    fit_top,
    has_rows,
    integer_axis,
    positive,
    price_svg,
    shade_splits,
    split_bounds,
    thin_train,
    view_buttons,
    weekly_closes,
    with_slider,
)

# The palette and helpers of core.plotkit are re-exported: pages and tests use plots.X.
__all__ = [
    "CELL_COLORS",
    "CELL_NAMES",
    "LAYER_COLORS",
    "NEUTRAL",
    "NO_DATA",
    "SPLIT_COLORS",
    "cell_color",
    "cell_name",
    "empty_figure",
    "gtt_heatmap",
    "gtt_lines",
    "grad_norm_chart",
    "loss_chart",
    "predictions_chart",
    "predictions_overlay",
    "price_chart",
    "price_svg",
    "residual_hist",
    "skill_chart",
    "spectral_chart",
    "theory_power_chart",
    "theory_tanh_chart",
    "val_loss_band",
    "weekly_closes",
]


def price_chart(
    prices: pd.Series, bounds: dict | None = None, title: str = "Price", *, weekly: bool = False
) -> go.Figure:
    """Daily price (or weekly closes) with train/val/test shaded; ``bounds`` maps split ->
    (first date, last date)."""
    if prices is None or len(prices) == 0:
        return empty_figure(title)
    series = weekly_closes(prices) if weekly else prices
    fig = base_figure(title, "date", "price")
    name = prices.name or "price"
    add_line(fig, days(series.index), f32(series), name, CELL_COLORS["lstm"], width=1.2)
    shade_splits(fig, bounds)
    return fit_top(with_slider(fig))


def predictions_chart(
    pred_df: pd.DataFrame, title: str = "Actual vs predicted price", *, color: str | None = None
) -> go.Figure:
    """Actual, predicted and naive (tomorrow = today) prices over every split, shaded; opens
    on the test split, with buttons for 'val + test' and 'all'. ``color``: the predicted line's.

    Light for the browser: float32 prices, day-only dates and a thinned long train split
    (see thin_train) send a fifth of the bytes of the daily frame, and no range slider
    draws every line a second time."""
    if not has_rows(pred_df, "date", "split", "actual_price", "predicted_price"):
        return empty_figure(title)
    df = pred_df.assign(date=pd.to_datetime(pred_df["date"])).sort_values("date")
    bounds = split_bounds(df)
    df, thinned = thin_train(df)
    fig = base_figure(title, "date", "price")
    x = days(df["date"])
    add_line(fig, x, f32(df["actual_price"]), "actual", NEUTRAL, width=1.5)
    if "naive_price" in df.columns:
        naive = "naive (yesterday)"  # hidden at first: it overlaps the actual line by design
        hidden = {"visible": "legendonly", "width": 1}
        add_line(fig, x, f32(df["naive_price"]), naive, NEUTRAL, "dot", **hidden)
    color = color or CELL_COLORS["lstm"]
    add_line(fig, x, f32(df["predicted_price"]), "predicted", color, width=1.2)
    labels = {"train": f"train (every {TRAIN_EVERY}th day)"} if thinned else {}
    shade_splits(fig, bounds, labels)
    view_buttons(fig, df, bounds)
    return fig


def loss_chart(rows: list[dict], color: str | None = None, title: str = "Loss") -> go.Figure:
    """Training and validation loss per epoch on a log axis (val dashed, same colour)."""
    rows = [r for r in rows or [] if "epoch" in r]
    if not rows:
        return empty_figure(title)
    color = color or CELL_COLORS["lstm"]
    epochs = [r["epoch"] for r in rows]
    fig = base_figure(title, "epoch", "loss (MSE, scaled)", log_y=True)
    for key, name, dash in (("loss", "train loss", None), ("val_loss", "val loss", "dash")):
        y = positive([r.get(key, np.nan) for r in rows])
        add_line(fig, epochs, y, name, color, dash, markers=True)
    integer_axis(fig, epochs)
    return fig


def _layer_names(rows: list[dict], key: str) -> list[str]:
    """Layer keys in first-seen order, 'global' first when present."""
    names: list[str] = []
    for r in rows:
        for name in r.get(key) or {}:
            if name not in names:
                names.append(name)
    return sorted(names, key=lambda n: n != "global")


def grad_norm_chart(rows: list[dict], title: str = "Gradient norm per layer") -> go.Figure:
    """Per-layer mean gradient norm per epoch (solid) with the epoch's max (dotted), log y;
    one legend entry per layer (it toggles both lines), so the legend stays one row."""
    rows = [r for r in rows or [] if isinstance(r.get("grad_norm"), dict) and "epoch" in r]
    names = _layer_names(rows, "grad_norm")
    if not names:
        return empty_figure(title)
    fig = base_figure(title, "epoch", "‖∂L/∂θ‖ before clipping: mean, max dotted", log_y=True)
    epochs = [r["epoch"] for r in rows]
    for i, name in enumerate(names):
        color = NEUTRAL if name == "global" else LAYER_COLORS[i % len(LAYER_COLORS)]
        stats = [r["grad_norm"].get(name) or {} for r in rows]
        mean, top = (positive([s.get(k, np.nan) for s in stats]) for k in ("mean", "max"))
        add_line(fig, epochs, mean, f"{name} mean", color, markers=True, legendgroup=name)
        dotted = {"width": 1, "legendgroup": name, "showlegend": False}
        add_line(fig, epochs, top, f"{name} max", color, "dot", **dotted)
    integer_axis(fig, epochs)
    return fig


def _log_ticks(z: np.ndarray) -> tuple[list[int], list[str]]:
    finite = z[np.isfinite(z)]
    lo, hi = int(np.floor(finite.min())), int(np.ceil(finite.max()))
    step = max(1, (hi - lo) // 8)  # at most ~9 labels however wide the range
    vals = list(range(lo, hi + 1, step))
    return vals, [f"10<sup>{k}</sup>" for k in vals]


def gtt_heatmap(gtt: dict, title: str = "Gradient through time (epoch × lag)") -> go.Figure:
    """log10 of g_k = mean ‖∂L/∂x_{T-1-k}‖ per probed epoch and lag; colourbar labelled 10^k."""
    norms = np.asarray((gtt or {}).get("norms") or [], dtype=float)
    if norms.ndim != 2 or norms.size == 0:
        return empty_figure(title)
    z = np.log10(positive(norms))
    if not np.isfinite(z).any():
        return empty_figure(title, "all gradients through time are zero")
    lags = gtt.get("lags") or list(range(norms.shape[1]))
    epochs = gtt.get("epochs") or list(range(1, norms.shape[0] + 1))
    tickvals, ticktext = _log_ticks(z)
    fig = base_figure(title, "lag k (steps back from the last input)", "epoch")
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=lags,
            y=epochs,
            colorscale="Viridis",
            customdata=norms,
            hovertemplate="epoch %{y}, lag %{x}<br>g = %{customdata:.3e}<extra></extra>",
            colorbar=dict(title=dict(text="‖∂L/∂x‖"), tickvals=tickvals, ticktext=ticktext),
        )
    )
    fig.update_layout(hovermode="closest")
    integer_axis(fig, epochs, "y")
    return fit_top(fig)


def gtt_lines(
    series: dict[str, tuple[Sequence[float], str]], title: str = "Gradient through time"
) -> go.Figure:
    """g_k vs lag k on a log axis, one line per label coloured by its cell; a steep fall = vanishing."""
    if not series:
        return empty_figure(title)
    fig = base_figure(
        title, "lag k (steps back from the last input)", "‖∂L/∂x_{T-1-k}‖", log_y=True
    )
    seen: dict[str, int] = {}
    for label, (norms, cell) in series.items():
        if norms is None or len(norms) == 0:
            continue
        dash = DASHES[seen.get(cell, 0) % len(DASHES)]  # same cell, several runs: vary the dash
        seen[cell] = seen.get(cell, 0) + 1
        add_line(fig, list(range(len(norms))), positive(norms), label, cell_color(cell), dash=dash)
    return fit_top(fig) if fig.data else empty_figure(title)


def _gate_names(rows: list[dict], layer: str) -> list[str]:
    blocks = [(r.get("spectral_radius_blocks") or {}).get(layer) or {} for r in rows]
    return list(dict.fromkeys(g for b in blocks for g in b))


def spectral_chart(
    rows: list[dict], title: str = "Spectral radius of recurrent kernels"
) -> go.Figure:
    """ρ per recurrent layer over epochs (max over its gate blocks, solid) and per gate block
    (dotted, from ``spectral_radius_blocks``, named in the hover, toggled with its layer's
    legend entry); the dashed line ρ = 1 is the border."""
    rows = [r for r in rows or [] if isinstance(r.get("spectral_radius"), dict) and "epoch" in r]
    names = _layer_names(rows, "spectral_radius")
    if not names:
        return empty_figure(title)
    fig = base_figure(title, "epoch", "ρ (max |eigenvalue|); gates dotted")
    epochs = [r["epoch"] for r in rows]
    for i, name in enumerate(names):
        color = LAYER_COLORS[i % len(LAYER_COLORS)]
        ys = np.asarray([r["spectral_radius"].get(name) for r in rows], dtype=float)  # None: NaN
        add_line(fig, epochs, ys, name, color, markers=True, legendgroup=name)
        gates = _gate_names(rows, name)
        for gate in gates if len(gates) > 1 else []:
            blocks = [(r.get("spectral_radius_blocks") or {}).get(name) or {} for r in rows]
            ys = np.asarray([b.get(gate) for b in blocks], dtype=float)
            dotted = {"width": 1, "legendgroup": name, "showlegend": False}  # named in the hover
            add_line(fig, epochs, ys, f"{name}/{gate}", color, "dot", **dotted)
    fig.add_hline(y=1.0, line_dash="dash", line_color=NEUTRAL, annotation_text="ρ = 1")
    integer_axis(fig, epochs)
    return fig


def residual_hist(
    pred_df: pd.DataFrame,
    split: str = "test",
    title: str | None = None,
    *,
    color: str | None = None,
) -> go.Figure:
    """Histogram of price errors (actual − predicted) beside the naive baseline's errors."""
    title = title or f"Residuals ({split})"
    if not has_rows(pred_df, "split", "actual_price", "predicted_price"):
        return empty_figure(title)
    df = pred_df[pred_df["split"] == split]
    if df.empty:
        return empty_figure(title)
    fig = base_figure(title, "actual − predicted price", "days")
    fig.add_trace(
        go.Histogram(
            x=df["actual_price"] - df["predicted_price"],
            name="model",
            marker_color=color or CELL_COLORS["lstm"],
            opacity=0.7,
        )
    )
    if "naive_price" in df.columns:
        fig.add_trace(
            go.Histogram(
                x=df["actual_price"] - df["naive_price"],
                name="naive",
                marker_color=NEUTRAL,
                opacity=0.5,
            )
        )
    fig.update_layout(barmode="overlay", hovermode="closest")
    return fig


def _hex_rgba(color: str, alpha: float) -> str:
    h = color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _seed_matrix(runs: list[list[dict]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, seeds × epochs) with NaN where a seed stopped early."""
    n = max((len(rows) for rows in runs), default=0)
    mat = np.full((len(runs), n), np.nan)
    for i, rows in enumerate(runs):
        for j, r in enumerate(rows):
            value = r.get(key)
            mat[i, j] = value if isinstance(value, (int, float)) else np.nan
    return np.arange(1, n + 1), mat


def _band(fig: go.Figure, x: Any, upper: Any, lower: Any, color: str, group: str) -> None:
    """A filled band between two invisible lines (the second fills to the first)."""
    for y, fill in ((upper, None), (lower, "tonexty")):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                line=dict(width=0),
                fill=fill,
                fillcolor=_hex_rgba(color, 0.2),
                showlegend=False,
                legendgroup=group,
                hoverinfo="skip",
            )
        )


def val_loss_band(
    per_cell: dict[str, list[list[dict]]],
    key: str = "val_loss",
    title: str = "Validation loss over seeds (mean ± std)",
) -> go.Figure:
    """Per cell: the mean over seeds per epoch with a ± 1 std band; seeds that stopped drop out."""
    fig = base_figure(title, "epoch", key, log_y=True)
    for cell, runs in (per_cell or {}).items():
        epochs, mat = _seed_matrix(runs or [], key)
        if mat.size == 0 or not np.isfinite(mat).any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an epoch no seed reached is NaN
            mean, std = np.nanmean(mat, axis=0), np.nanstd(mat, axis=0)
        color, n = cell_color(cell), int(np.isfinite(mat[:, 0]).sum())
        lower = positive(mean - std)
        lower = np.where(np.isfinite(lower), lower, positive(mean) / 10)  # log axis: never 0
        _band(fig, epochs, positive(mean + std), lower, color, cell)
        label = f"{cell_name(cell)} (n={n})"
        add_line(fig, epochs, positive(mean), label, color, markers=True, legendgroup=cell)
        integer_axis(fig, epochs)
    return fig if fig.data else empty_figure(title)


def predictions_overlay(
    per_label: dict[str, tuple[pd.DataFrame, str]], title: str = "Test-split predictions"
) -> go.Figure:
    """Actual test prices once, then each run's predictions coloured by its cell."""
    fig = base_figure(title, "date", "price")
    seen: dict[str, int] = {}
    for label, (pred_df, cell) in (per_label or {}).items():
        if not has_rows(pred_df, "date", "split", "actual_price", "predicted_price"):
            continue
        df = pred_df[pred_df["split"] == "test"].sort_values("date")
        if df.empty:
            continue
        x = days(df["date"])
        if not fig.data:
            add_line(fig, x, f32(df["actual_price"]), "actual", NEUTRAL, width=2)
        dash = DASHES[seen.get(cell, 0) % len(DASHES)]
        seen[cell] = seen.get(cell, 0) + 1
        add_line(fig, x, f32(df["predicted_price"]), label, cell_color(cell), dash=dash, width=1.2)
    return with_slider(fig) if fig.data else empty_figure(title)


def _theory_lines(
    series: Mapping[str, Sequence[float]], fig: go.Figure, color: str | None = None, dash=None
) -> None:
    for i, (label, values) in enumerate(series.items()):
        if values is not None and len(values) > 0:
            c = color or LAYER_COLORS[i % len(LAYER_COLORS)]
            x, y = list(range(len(values))), positive(values)
            add_line(fig, x, y, label, c, dash=dash, markers=True, marker=dict(size=4))


def theory_power_chart(
    series: Mapping[str, Sequence[float]], title: str = "‖Wⁿx‖ vs n"
) -> go.Figure:
    """‖Wⁿx‖ for n = 0…N per label (e.g. 'ρ = 0.9', 'same signs, ρ = 1.1'), log y."""
    fig = base_figure(title, "n (steps)", "‖Wⁿx‖", log_y=True)
    _theory_lines(series or {}, fig)
    if not fig.data:
        return empty_figure(title)
    fig.add_hline(y=1.0, line_dash="dash", line_color=NEUTRAL, annotation_text="‖x‖ = 1")
    return fig


def theory_tanh_chart(
    series: Mapping[str, Sequence[float]],
    reference: Mapping[str, Sequence[float]] | None = None,
    title: str = "Scalar tanh RNN: |∂hₙ/∂h₀| vs n",
) -> go.Figure:
    """|∂h_n/∂h_0| for n = 0…N per label (e.g. 'w = 0.9'); ``reference`` lines dashed grey."""
    fig = base_figure(title, "n (steps back)", "|∂hₙ/∂h₀|", log_y=True)
    _theory_lines(series or {}, fig)
    if not fig.data:
        return empty_figure(title)
    for label, values in (reference or {}).items():
        _theory_lines({label: values}, fig, color=NEUTRAL, dash="dash")
    return fig


def skill_chart(rows: list[dict], title: str = "Skill vs the naive forecast") -> go.Figure:
    """Horizontal bars of test skill (1 - RMSE / naive RMSE) per run, coloured by cell.

    Rows are run-store listing rows ("cell", "skill", "label"); the zero line is the naive
    "tomorrow = today" forecast, so a bar to its left is a model that lost to it.
    """
    rows = [r for r in rows if isinstance(r.get("skill"), (int, float))]
    if not rows:
        return empty_figure(title, "No finished runs yet")
    fig = base_figure(title, x_title="skill (> 0: beats naive)")
    fig.add_bar(
        y=[r["label"] for r in rows],
        x=[r["skill"] for r in rows],
        orientation="h",
        marker_color=[cell_color(r.get("cell", "")) for r in rows],
        hovertemplate="%{y}<br>skill %{x:+.4f}<extra></extra>",
    )
    fig.add_vline(x=0, line_dash="dot", line_color=NEUTRAL, annotation_text="naive")
    fig.update_yaxes(autorange="reversed")  # newest first, as listed
    fig.update_layout(hovermode="closest", height=120 + 28 * len(rows), margin_t=48)
    return fig
