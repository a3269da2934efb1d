"""Figures as pure functions: data in, plotly ``go.Figure`` out; no streamlit, no keras.

Every function accepts empty input and then returns a figure that says "no data yet"
instead of raising, so a page can render a run that is still queued. Backgrounds are
transparent and text colours are left to the template, so figures read in light and
dark themes alike. Log axes are labelled at decades in powers of ten (plotkit.log_axis),
each layer has one colour on every chart (plotkit.layer_color).

The charts live by concern in core.plots_prices, core.plots_training and core.plots_theory;
this module is the one name pages and tests import them by.
"""

from __future__ import annotations

from core.plotkit import (
    CELL_COLORS,
    CELL_NAMES,
    LAYER_COLORS,
    NEUTRAL,
    NO_DATA,
    SPLIT_COLORS,
    cell_color,
    cell_name,
    empty_figure,
    layer_color,
    price_svg,
    weekly_closes,
)
from core.plots_prices import (
    errors_chart,
    predictions_chart,
    predictions_overlay,
    price_chart,
    residual_hist,
    skill_chart,
)
from core.plots_theory import theory_power_chart, theory_tanh_chart
from core.plots_training import (
    grad_norm_chart,
    gtt_heatmap,
    gtt_lines,
    loss_chart,
    spectral_chart,
    val_loss_band,
)

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
    "errors_chart",
    "gtt_heatmap",
    "gtt_lines",
    "grad_norm_chart",
    "layer_color",
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
