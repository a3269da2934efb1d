"""The Theory page's figures: ‖Wⁿx‖ and a scalar tanh RNN's |∂hₙ/∂h₀| against n, log y."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from core.plotkit import (
    LAYER_COLORS,
    NEUTRAL,
    add_line,
    base_figure,
    empty_figure,
    log_axis,
    positive,
    spanning,
)


def _theory_lines(
    series: Mapping[str, Sequence[float]], fig: go.Figure, color: str | None = None, dash=None
) -> None:
    for i, (label, values) in enumerate(series.items()):
        if values is not None and len(values) > 0:
            c = color or LAYER_COLORS[i % len(LAYER_COLORS)]
            x, y = list(range(len(values))), positive(values)
            add_line(fig, x, y, label, c, dash=dash, markers=True, marker=dict(size=4))


def _unit_line(fig: go.Figure, text: str) -> None:
    """A dashed line at 1 labelled on it. Not add_hline's own label: on a log axis plotly
    places that at 10¹ rather than 1, well above its line."""
    spanning(fig, "hline", 1.0, line={"dash": "dash", "color": NEUTRAL})
    fig.add_annotation(
        x=1, xref="paper", y=0, yref="y", text=text, showarrow=False, xanchor="right",
        yanchor="bottom", font=dict(color=NEUTRAL),
    )  # fmt: skip


def theory_power_chart(
    series: Mapping[str, Sequence[float]], title: str = "‖Wⁿx‖ vs n"
) -> go.Figure:
    """‖Wⁿx‖ for n = 0…N per label (e.g. 'ρ = 0.9', 'same signs, ρ = 1.1'), log y."""
    fig = base_figure(title, "n (steps)", "‖Wⁿx‖", log_y=True)
    _theory_lines(series or {}, fig)
    if not fig.data:
        return empty_figure(title)
    log_axis(fig)
    _unit_line(fig, "‖x‖ = 1")
    return fig


def theory_tanh_chart(
    series: Mapping[str, Sequence[float]],
    reference: Mapping[str, Sequence[float]] | None = None,
    title: str = "Scalar tanh RNN: |∂hₙ/∂h₀| vs n",
) -> go.Figure:
    """|∂hₙ/∂h₀| for n = 0…N per label (e.g. 'w = 0.9'); ``reference`` lines dashed grey."""
    fig = base_figure(title, "n (steps back)", "|∂hₙ/∂h₀|", log_y=True)
    _theory_lines(series or {}, fig)
    if not fig.data:
        return empty_figure(title)
    for label, values in (reference or {}).items():
        _theory_lines({label: values}, fig, color=NEUTRAL, dash="dash")
    return log_axis(fig)
