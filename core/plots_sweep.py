"""Figures for a sweep's trials (plotly only): parallel coordinates, one line per trial.

Coloured by validation loss (lower is better, so the scale is reversed: good trials stand out)
or by cell (the cells' own colours). Trials without a value (pruned, failed) are left out:
a line needs every axis.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from core.cells import CELL_COLORS, cell_name

LOG_PARAMS = ("learning_rate", "clipnorm")  # drawn as log10 so decades are evenly spaced


def _axis(name: str, values: list[float]) -> dict[str, Any]:
    if name in LOG_PARAMS and all(v > 0 for v in values):
        return {"label": f"log10 {name}", "values": [math.log10(v) for v in values]}
    return {"label": name, "values": values}


def parallel_coordinates(trials: list[dict[str, Any]], color_by: str = "value") -> go.Figure:
    """trials: report()["trials"] rows; color_by "value" (validation loss) or "cell"."""
    done = [t for t in trials if isinstance(t.get("value"), (int, float))]
    fig = go.Figure()
    if not done:
        fig.update_layout(title="No finished trials yet")
        return fig
    cells = sorted({t["cell"] for t in done})
    names = sorted({k for t in done for k in t["params"]})
    dims = [
        {"label": "cell", "values": [cells.index(t["cell"]) for t in done],
         "tickvals": list(range(len(cells))), "ticktext": [cell_name(c) for c in cells]},
    ]  # fmt: skip
    dims += [_axis(n, [float(t["params"].get(n, math.nan)) for t in done]) for n in names]
    dims.append({"label": "validation loss", "values": [t["value"] for t in done]})
    if color_by == "cell":
        idx = [cells.index(t["cell"]) for t in done]
        n = max(len(cells) - 1, 1)
        scale = [[i / n, CELL_COLORS.get(c, "#888888")] for i, c in enumerate(cells)]
        if len(cells) == 1:
            scale = [[0, scale[0][1]], [1, scale[0][1]]]
        line = {"color": idx, "colorscale": scale, "cmin": 0, "cmax": n}
    else:
        line = {
            "color": [t["value"] for t in done], "colorscale": "Viridis", "reversescale": True,
            "showscale": True, "colorbar": {"title": "val loss"},
        }  # fmt: skip
    fig.add_trace(go.Parcoords(line=line, dimensions=dims))
    title = "Trials, coloured by " + ("cell" if color_by == "cell" else "validation loss")
    fig.update_layout(title=title, margin={"l": 60, "r": 40, "t": 60, "b": 30})
    return fig
