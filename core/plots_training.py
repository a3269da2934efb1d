"""Training-dynamics figures: losses, per-layer gradient norms, gradients through time,
spectral radii and the validation loss over seeds.

One colour per layer on every chart (plotkit.layer_color), every line style in the legend,
epochs counted as the run store does: 1 = after the first epoch, 0 = before training.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.plotkit import (
    DASHES,
    NEUTRAL,
    add_line,
    base_figure,
    cell_color,
    cell_name,
    empty_figure,
    fit_top,
    integer_axis,
    layer_color,
    legend_key,
    log_axis,
    positive,
    power_of_ten,
    spanning,
)

LAG_TITLE = "lag k (steps back from the last input)"
GTT_TITLE = "‖∂L/∂x<sub>T−1−k</sub>‖"  # plotly draws <sub> as a real subscript
LOSS_TITLES = {"val_loss": "validation loss (MSE, scaled)", "loss": "training loss (MSE, scaled)"}


def loss_chart(rows: list[dict], color: str | None = None, title: str = "Loss") -> go.Figure:
    """Training and validation loss per epoch on a log axis (val dashed, same colour)."""
    rows = [r for r in rows or [] if "epoch" in r]
    if not rows:
        return empty_figure(title)
    color = color or cell_color("lstm")
    epochs = [r["epoch"] for r in rows]
    fig = base_figure(title, "epoch", "loss (MSE, scaled)", log_y=True)
    for key, name, dash in (("loss", "train loss", None), ("val_loss", "val loss", "dash")):
        y = positive([r.get(key, np.nan) for r in rows])
        add_line(fig, epochs, y, name, color, dash, markers=True)
    integer_axis(fig, epochs)
    return log_axis(fig)


def _layer_names(rows: list[dict], key: str) -> list[str]:
    """Layer keys in first-seen order, 'global' first when present."""
    names: list[str] = []
    for r in rows:
        for name in r.get(key) or {}:
            if name not in names:
                names.append(name)
    return sorted(names, key=lambda n: n != "global")


def grad_norm_chart(rows: list[dict], title: str = "Gradient norm per layer") -> go.Figure:
    """Per-layer mean gradient norm per epoch (solid, one legend entry per layer) and the
    epoch's max (dotted, one legend entry 'max' toggling every dotted line), log y."""
    rows = [r for r in rows or [] if isinstance(r.get("grad_norm"), dict) and "epoch" in r]
    names = _layer_names(rows, "grad_norm")
    if not names:
        return empty_figure(title)
    fig = base_figure(title, "epoch", "‖∂L/∂θ‖ before clipping", log_y=True)
    epochs = [r["epoch"] for r in rows]
    for name in names:
        stats = [r["grad_norm"].get(name) or {} for r in rows]
        mean, top = (positive([s.get(k, np.nan) for s in stats]) for k in ("mean", "max"))
        add_line(fig, epochs, mean, name, layer_color(name), markers=True)
        dotted = {"width": 1, "legendgroup": "max", "showlegend": False}
        add_line(fig, epochs, top, f"{name} max", layer_color(name), "dot", **dotted)
    legend_key(fig, "max per epoch", "dot", "max")
    integer_axis(fig, epochs)
    return log_axis(fig)


def gtt_heatmap(gtt: dict, title: str = "Gradient through time (epoch × lag)") -> go.Figure:
    """log10 of the mean ‖∂L/∂x‖ k steps back per probed epoch and lag, the colour bar
    labelled in powers of ten; epoch 0 is the probe before training."""
    norms = np.asarray((gtt or {}).get("norms") or [], dtype=float)
    if norms.ndim != 2 or norms.size == 0:
        return empty_figure(title)
    z = np.log10(positive(norms))
    if not np.isfinite(z).any():
        return empty_figure(title, "all gradients through time are zero")
    lags = gtt.get("lags") or list(range(norms.shape[1]))
    epochs = gtt.get("epochs") or list(range(1, norms.shape[0] + 1))
    finite = z[np.isfinite(z)]
    lo, hi = int(np.floor(finite.min())), int(np.ceil(finite.max()))
    tickvals = list(range(lo, hi + 1, max(1, -(-(hi - lo) // 8))))
    ticktext = [power_of_ten(k) for k in tickvals]
    fig = base_figure(title, LAG_TITLE, "epoch (0 = before training)")
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=lags,
            y=epochs,
            colorscale="Viridis",
            customdata=norms,
            hovertemplate="epoch %{y}, lag %{x}<br>‖∂L/∂x‖ = %{customdata:.3e}<extra></extra>",
            colorbar=dict(title=dict(text="‖∂L/∂x‖"), tickvals=tickvals, ticktext=ticktext),
        )
    )
    fig.update_layout(hovermode="closest")
    integer_axis(fig, epochs, "y")
    return fit_top(fig)


def gtt_lines(
    series: dict[str, tuple[Sequence[float], str]], title: str = "Gradient through time"
) -> go.Figure:
    """‖∂L/∂x‖ vs lag k on a log axis, one line per label coloured by its cell; a steep
    fall = vanishing."""
    if not series:
        return empty_figure(title)
    fig = base_figure(title, LAG_TITLE, GTT_TITLE, log_y=True)
    seen: dict[str, int] = {}
    for label, (norms, cell) in series.items():
        if norms is None or len(norms) == 0:
            continue
        dash = DASHES[seen.get(cell, 0) % len(DASHES)]  # same cell, several runs: vary the dash
        seen[cell] = seen.get(cell, 0) + 1
        add_line(fig, list(range(len(norms))), positive(norms), label, cell_color(cell), dash=dash)
    return fit_top(log_axis(fig)) if fig.data else empty_figure(title)


def _gate_names(rows: list[dict], layer: str) -> list[str]:
    blocks = [(r.get("spectral_radius_blocks") or {}).get(layer) or {} for r in rows]
    return list(dict.fromkeys(g for b in blocks for g in b))


def spectral_chart(
    rows: list[dict], title: str = "Spectral radius of recurrent kernels"
) -> go.Figure:
    """ρ per recurrent layer over epochs (max over its gate blocks, solid) and, for gated
    cells, per gate block (dotted, named in the hover, one legend entry 'gate blocks'
    toggling them all); the dashed line ρ = 1 is the border."""
    rows = [r for r in rows or [] if isinstance(r.get("spectral_radius"), dict) and "epoch" in r]
    names = _layer_names(rows, "spectral_radius")
    if not names:
        return empty_figure(title)
    fig = base_figure(title, "epoch", "ρ (largest |eigenvalue|)")
    epochs = [r["epoch"] for r in rows]
    gated = False
    for name in names:
        color = layer_color(name)
        ys = np.asarray([r["spectral_radius"].get(name) for r in rows], dtype=float)  # None: NaN
        add_line(fig, epochs, ys, name, color, markers=True)
        gates = _gate_names(rows, name)
        for gate in gates if len(gates) > 1 else []:
            blocks = [(r.get("spectral_radius_blocks") or {}).get(name) or {} for r in rows]
            ys = np.asarray([b.get(gate) for b in blocks], dtype=float)
            dotted = {"width": 1, "legendgroup": "gates", "showlegend": False}
            add_line(fig, epochs, ys, f"{name} {gate} gate", color, "dot", **dotted)
            gated = True
    if gated:
        legend_key(fig, "gate blocks", "dot", "gates")
    spanning(fig, "hline", 1.0, "ρ = 1", line={"dash": "dash", "color": NEUTRAL})
    integer_axis(fig, epochs)
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
    fig = base_figure(title, "epoch", LOSS_TITLES.get(key, key.replace("_", " ")), log_y=True)
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
    return log_axis(fig) if fig.data else empty_figure(title)
