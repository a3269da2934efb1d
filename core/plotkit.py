"""Building blocks of every figure: palette, the shared layout, line traces, split shading,
compact encodings and the predictions chart's views.

plotly (and numpy) only; core/plots.py holds the charts themselves and re-exports the palette.
The cell names and colours live in core.cells and the first page's static chart in
core.svgplot (both free of plotly and pandas); they are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.shapeannotation import axis_spanning_shape_annotation

# "X as X": re-exported, core.plots and the tests reach them through plotkit.
from core.cells import CELL_COLORS as CELL_COLORS
from core.cells import CELL_NAMES as CELL_NAMES
from core.cells import NEUTRAL
from core.cells import cell_color as cell_color
from core.cells import cell_name as cell_name
from core.overview import weekly_closes as weekly_closes
from core.svgplot import nice_ticks as nice_ticks
from core.svgplot import price_svg as price_svg

SPLIT_COLORS: dict[str, str] = {"train": "#999999", "val": "#CC79A7", "test": "#F0E442"}
# Per-layer lines within one run: rnn_0, rnn_1, ... take these in order and "head" its own,
# on every chart (layer_color), so a layer never changes colour between charts. No orange
# beside the head's vermilion: two near-identical oranges read as one layer.
LAYER_COLORS = ("#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#8C564B", "#F0E442")
HEAD_COLOR = "#D55E00"
NO_DATA = "no data yet"
SPLIT_OPACITY = 0.12
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
# Top margin in px: the title on its first line, the legend (and view buttons) on the second,
# so a legend never covers a title; plotly widens the margin itself if a legend wraps.
TOP = 84
# Predictions: a train split longer than this is drawn every TRAIN_EVERY-th day.
FULL_DETAIL_DAYS = 1000
TRAIN_EVERY = 5
ZOOM = pd.Timedelta(days=91)  # the predictions chart opens on the test split's last 3 months


def layer_color(name: str) -> str:
    """The one colour of a layer on every chart: 'global' grey, 'head' vermilion, rnn_i the
    i-th of LAYER_COLORS; anything else by its order among the names seen (stable per name)."""
    if name == "global":
        return NEUTRAL
    if name == "head":
        return HEAD_COLOR
    match = re.fullmatch(r"rnn_(\d+)", name)
    index = int(match.group(1)) if match else sum(name.encode())
    return LAYER_COLORS[index % len(LAYER_COLORS)]


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(k: int, mantissa: int = 1) -> str:
    """'10⁻³' (or '2×10⁻³'): Unicode superscripts, the one way every chart writes a decade."""
    power = "10" + str(int(k)).translate(_SUPERSCRIPT)
    return power if mantissa == 1 else f"{mantissa}×{power}"


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick values and labels for a log axis over [lo, hi] (both > 0): decades only, every
    step-th when they are many (at most ~10 labels, 10⁰ among them), with 2× and 5× added only when the
    range holds fewer than two decades, so there is always something to read."""
    a, b = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    step = max(1, -(-(int(np.floor(np.log10(hi))) - int(np.ceil(np.log10(lo)))) // 10))
    ticks = [(10.0**k, power_of_ten(k)) for k in range(a, b + 1) if k % step == 0]
    inside = [t for t in ticks if lo <= t[0] <= hi]
    if len(inside) < 2:
        extra = [(m * 10.0**k, power_of_ten(k, m)) for k in range(a, b + 1) for m in (2, 5)]
        ticks = sorted(ticks + [t for t in extra if lo <= t[0] <= hi])
    ticks = [t for t in ticks if lo <= t[0] <= hi]  # plotly would not draw the others
    return [t[0] for t in ticks], [t[1] for t in ticks]


def log_axis(fig: go.Figure, axis: str = "y") -> go.Figure:
    """Label a log axis at decades in powers of ten (10⁻³), never plotly's minor digits or SI
    prefixes (100μ); the hover shows 1.23e-4. Reads the finite positive values of the
    figure's line traces on that axis, so call it after the traces are added."""
    values = [np.asarray(getattr(t, axis), dtype=float) for t in fig.data if t.type == "scatter"]
    flat = np.concatenate([v.ravel() for v in values]) if values else np.array([])
    flat = flat[np.isfinite(flat) & (flat > 0)]
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    update(type="log", exponentformat="power", hoverformat=".3~e")
    if flat.size:
        lo, hi = float(np.log10(flat.min())), float(np.log10(flat.max()))
        pad = 0.05 * max(hi - lo, 0.3)
        vals, text = log_ticks(10 ** (lo - pad), 10 ** (hi + pad))
        update(tickmode="array", tickvals=vals, ticktext=text, range=[lo - pad, hi + pad])
    return fig


def legend_key(fig: go.Figure, name: str, dash: str, group: str) -> None:
    """A legend entry for a line style ('max (dotted)'): a grey line with no points, in the
    legend group of the lines drawn in that style, so clicking it toggles them all."""
    line = {"color": NEUTRAL, "dash": dash, "width": 1}
    fig.add_trace(
        go.Scatter(x=[None], y=[None], mode="lines", name=name, line=line, legendgroup=group)
    )


def base_figure(title: str, x_title: str = "", y_title: str = "", log_y: bool = False) -> go.Figure:
    """Transparent figure: title top left, a one-row legend top right just above the plot.

    One layout handed to the constructor: plotly validates it once, 2 ms a figure, where five
    update calls took 18 ms. Every chart starts here, the live curves every 2 s among them."""
    yaxis: dict[str, Any] = {"title": {"text": y_title}}
    if log_y:  # not "linear" otherwise: that would turn a category or date axis into numbers
        yaxis.update(type="log", exponentformat="power")
    return go.Figure(
        layout={
            "title": {
                "text": title, "x": 0, "xref": "paper", "y": 1, "yref": "container",
                "yanchor": "top", "pad": {"t": 10},
            },
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "margin": {"l": 10, "r": 10, "t": TOP, "b": 10},
            "legend": {
                "orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "right", "x": 1,
            },
            "hovermode": "x unified",
            "xaxis": {"title": {"text": x_title}},
            "yaxis": yaxis,
        }
    )  # fmt: skip


def fit_top(fig: go.Figure) -> go.Figure:
    """Shrink the top margin when no legend row is drawn (fewer than two named traces and
    no buttons): the title then sits right above the plot."""
    named = [t for t in fig.data if t.showlegend is not False and t.name]
    if len(named) < 2 and not fig.layout.updatemenus:
        fig.update_layout(margin_t=TOP - 34)
    return fig


def empty_figure(title: str = "", message: str = NO_DATA) -> go.Figure:
    """A blank figure carrying one centred annotation; used for every empty input."""
    fig = base_figure(title)
    fig.add_annotation(
        text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font=dict(size=16)
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fit_top(fig)


def integer_axis(fig: go.Figure, values: Iterable[Any], axis: str = "x") -> None:
    """Whole-number ticks (epochs): plotly would label 1.5 between epochs 1 and 2."""
    vals = np.asarray([v for v in values if v is not None], dtype=float)  # numpy ints too
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return
    span = float(vals.max() - vals.min())
    dtick = next((s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if span / s <= 10), 1000)
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(tickmode="linear", tick0=0, dtick=dtick, tickformat="d")


def days(dates: Any) -> np.ndarray:
    """Dates as 'YYYY-MM-DD': plotly would send 'YYYY-MM-DDT00:00:00', 40% more bytes."""
    return pd.DatetimeIndex(pd.to_datetime(dates)).strftime("%Y-%m-%d").to_numpy()


def f32(values: Any) -> np.ndarray:
    """Prices as float32 (7 significant digits): half the bytes of float64, same picture."""
    return np.asarray(values, dtype=np.float32)


def positive(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Float array with non-positive and non-finite values as NaN, which log axes cannot show."""
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr) & (arr > 0), arr, np.nan)


def has_rows(df: pd.DataFrame | None, *cols: str) -> bool:
    return df is not None and len(df) > 0 and all(c in df.columns for c in cols)


def split_bounds(pred_df: pd.DataFrame) -> dict[str, tuple[Any, Any]]:
    """First and last date of each split present in a predictions frame, in split order."""
    out: dict[str, tuple[Any, Any]] = {}
    for name in ("train", "val", "test"):
        dates = pd.to_datetime(pred_df.loc[pred_df["split"] == name, "date"])
        if len(dates):
            out[name] = (dates.min(), dates.max())
    return out


def shade_splits(
    fig: go.Figure,
    bounds: Mapping[str, Sequence[Any]] | None,
    labels: Mapping[str, str] | None = None,
    position: str = "top left",
) -> None:
    labels = labels or {}
    for name, span in (bounds or {}).items():
        if span is None or len(span) != 2:
            continue
        style = {"fillcolor": SPLIT_COLORS.get(name, NEUTRAL), "opacity": SPLIT_OPACITY}
        spanning(fig, "vrect", tuple(span), labels.get(name, name), position, line={"width": 0},
                 layer="below", **style)  # fmt: skip


# Where each kind of axis-spanning shape lies: (xref, yref), and its coordinates from `at`.
_SPANS = {
    "vline": (("x", "y domain"), lambda at: (at, at, 0, 1)),
    "hline": (("x domain", "y"), lambda at: (0, 1, at, at)),
    "vrect": (("x", "y domain"), lambda at: (at[0], at[1], 0, 1)),
}


def spanning(
    fig: go.Figure,
    kind: str,
    at: Any,
    text: str | None = None,
    position: str | None = None,
    **style: Any,
) -> go.Figure:
    """What fig.add_vline / add_hline / add_vrect draw on a one-plot figure (the labelled
    line or band, its label placed by plotly's own rule), added as a plain shape and note.

    plotly's add_* re-examine every axis of the figure on each call: 10-40 ms a line, the
    largest cost of the Results page's figures; add_shape and add_annotation take 2 ms.
    tests/test_plots.py compares the two."""
    (xref, yref), coords = _SPANS[kind]
    x0, x1, y0, y1 = coords(at)
    shape = {"type": "rect" if kind.endswith("rect") else "line", "x0": x0, "x1": x1}
    shape.update(y0=y0, y1=y1, **style)
    fig.add_shape(**shape, xref=xref, yref=yref)
    if text is not None:
        wanted = {"annotation_text": text, "annotation_position": position}
        note = axis_spanning_shape_annotation(None, kind, shape, wanted)
        fig.add_annotation(**note, xref=xref, yref=yref)
    return fig


def with_slider(fig: go.Figure) -> go.Figure:
    fig.update_xaxes(rangeslider=dict(visible=True, thickness=0.08))
    return fig


def add_line(
    fig: go.Figure, x: Any, y: Any, name: str, color: str, dash: str | None = None, **extra: Any
) -> None:
    """Add one line trace; ``width`` and ``markers`` are the only styling most charts vary.

    Always SVG: Scattergl drew the 2,000-point predictions chart in 0.6-1.0 s against 0.1 s
    for SVG in headless Chromium (software WebGL), and a WebGL context per chart adds up."""
    width, markers = extra.pop("width", None), extra.pop("markers", False)
    line = {"color": color, "dash": dash, "width": width}
    mode = "lines+markers" if markers else "lines"
    line = {k: v for k, v in line.items() if v is not None}
    fig.add_trace(go.Scatter(x=x, y=y, name=name, mode=mode, line=line, **extra))


def thin_train(df: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Every 5th day of a long train split (and its last day); val and test stay daily.

    Still honest: each kept point is that day's real actual and predicted price, not an
    average, so the in-sample fit reads the same; the metrics are computed on the full test
    split elsewhere, and the test split, where the chart opens, keeps every day."""
    train = (df["split"] == "train").to_numpy()
    n = int(train.sum())
    if n <= FULL_DETAIL_DAYS:
        return df, False
    pos = np.cumsum(train) - 1  # position within the train split
    keep = ~train | (pos % TRAIN_EVERY == 0) | (pos == n - 1)
    return df[keep], True


def y_range(df: pd.DataFrame) -> list[float] | None:
    values = df[["actual_price", "predicted_price"]].to_numpy(dtype=float)
    if not np.isfinite(values).any():
        return None
    lo, hi = np.nanmin(values), np.nanmax(values)
    pad = 0.05 * (hi - lo) or 1.0
    return [float(lo - pad), float(hi + pad)]


def view_buttons(fig: go.Figure, df: pd.DataFrame, bounds: dict[str, tuple[Any, Any]]) -> None:
    """Buttons 'last 3 months' (the opening view, when the test split is longer than twice
    that: at full scale the model, naive and actual lines coincide), 'test', 'val + test' and
    'all'; each sets both axes, since plotly keeps the y range of the old view when only x
    changes."""
    buttons: list[dict[str, Any]] = []
    windows = [("test", "test", "test"), ("val + test", "val", "test")]
    if "test" in bounds and bounds["test"][1] - bounds["test"][0] > 2 * ZOOM:
        windows.insert(0, ("last 3 months", "zoom", "test"))  # model and naive apart
        bounds = {**bounds, "zoom": (bounds["test"][1] - ZOOM, bounds["test"][1])}
    for label, first, last in windows:
        if first not in bounds or last not in bounds:
            continue
        lo, hi = bounds[first][0], bounds[last][1]
        y = y_range(df[(df["date"] >= lo) & (df["date"] <= hi)])
        view = {"xaxis.range": [f"{lo:%Y-%m-%d}", f"{hi:%Y-%m-%d}"], "yaxis.range": y}
        buttons.append(dict(label=label, method="relayout", args=[view]))
    if not buttons or buttons[0]["args"][0]["yaxis.range"] is None:
        return
    everything = {"xaxis.autorange": True, "yaxis.autorange": True}
    buttons.append(dict(label="all", method="relayout", args=[everything]))
    opening = buttons[0]["args"][0]
    fig.update_xaxes(range=opening["xaxis.range"])
    fig.update_yaxes(range=opening["yaxis.range"])
    menu = dict(type="buttons", direction="right", buttons=buttons, active=0, showactive=True)
    menu.update(x=0, xanchor="left", y=1.01, yanchor="bottom", pad=dict(t=0, b=0, l=0, r=0))
    fig.update_layout(updatemenus=[menu])
