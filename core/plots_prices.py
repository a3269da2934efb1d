"""Price figures: the series with its splits, actual vs predicted beside the naive forecast,
the errors of both, residuals, several runs' test predictions and skill per run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.plotkit import (
    DASHES,
    NEUTRAL,
    TRAIN_EVERY,
    add_line,
    base_figure,
    cell_color,
    days,
    empty_figure,
    f32,
    fit_top,
    has_rows,
    shade_splits,
    spanning,
    split_bounds,
    thin_train,
    view_buttons,
    weekly_closes,
    with_slider,
)

NAIVE = "naive (yesterday)"
ERROR_WINDOW = 20  # trading days in the rolling mean of the errors chart: about a month


def price_chart(
    prices: pd.Series, bounds: dict | None = None, title: str = "Price", *, weekly: bool = False
) -> go.Figure:
    """Daily price (or weekly closes) with train/val/test shaded; ``bounds`` maps split ->
    (first date, last date)."""
    if prices is None or len(prices) == 0:
        return empty_figure(title)
    series = weekly_closes(prices) if weekly else prices
    y_title = "weekly close" if weekly else "daily close"
    fig = base_figure(title, "date", y_title)
    name = prices.name or "price"
    add_line(fig, days(series.index), f32(series), name, cell_color("lstm"), width=1.2)
    shade_splits(fig, bounds)
    return fit_top(with_slider(fig))


def predictions_chart(
    pred_df: pd.DataFrame, title: str = "Actual vs predicted price", *, color: str | None = None
) -> go.Figure:
    """Actual, naive (tomorrow = today) and predicted prices over every split, shaded; opens
    on the test split, with buttons for 'val + test' and 'all'. ``color``: the predicted line's.

    Light for the browser: float32 prices, day-only dates and a thinned long train split
    (see thin_train) send a fifth of the bytes of the daily frame, and no range slider
    draws every line a second time. The split names sit at the bottom of their bands, out
    of the view buttons' way."""
    if not has_rows(pred_df, "date", "split", "actual_price", "predicted_price"):
        return empty_figure(title)
    df = pred_df.assign(date=pd.to_datetime(pred_df["date"])).sort_values("date")
    bounds = split_bounds(df)
    df, thinned = thin_train(df)
    fig = base_figure(title, "date", "price")
    x = days(df["date"])
    add_line(fig, x, f32(df["actual_price"]), "actual", NEUTRAL, width=1.5)
    if "naive_price" in df.columns:
        add_line(fig, x, f32(df["naive_price"]), NAIVE, NEUTRAL, "dot", width=1.5)
    color = color or cell_color("lstm")
    add_line(fig, x, f32(df["predicted_price"]), "predicted", color, width=1.2)
    labels = {"train": f"train (every {TRAIN_EVERY}th day)"} if thinned else {}
    shade_splits(fig, bounds, labels, position="bottom left")
    view_buttons(fig, df, bounds)
    return fig


def errors_chart(
    pred_df: pd.DataFrame, split: str = "test", *, color: str | None = None
) -> go.Figure:
    """Model and naive absolute price errors on one split, each as a rolling mean over
    ERROR_WINDOW days: where the price lines coincide, the errors still tell them apart."""
    title = f"Absolute error on the {split} split ({ERROR_WINDOW}-day mean)"
    if not has_rows(pred_df, "date", "split", "actual_price", "predicted_price"):
        return empty_figure(title)
    df = pred_df[pred_df["split"] == split].sort_values("date")
    if df.empty:
        return empty_figure(title)
    fig = base_figure(title, "date", "|actual − forecast| (price)")
    x = days(df["date"])
    window = dict(window=ERROR_WINDOW, min_periods=1)
    model = (df["actual_price"] - df["predicted_price"]).abs().rolling(**window).mean()
    if "naive_price" in df.columns:
        naive = (df["actual_price"] - df["naive_price"]).abs().rolling(**window).mean()
        add_line(fig, x, f32(naive), NAIVE, NEUTRAL, "dot", width=1.5)
    add_line(fig, x, f32(model), "model", color or cell_color("lstm"), width=1.5)
    fig.update_yaxes(rangemode="tozero")
    return fit_top(fig)


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
            marker_color=color or cell_color("lstm"),
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


def skill_chart(rows: list[dict], title: str = "Skill vs the naive forecast") -> go.Figure:
    """Horizontal bars of test skill (1 - RMSE / naive RMSE) per run, coloured by cell.

    Rows are run-store listing rows ("cell", "skill", "label"); the zero line is the naive
    "tomorrow = today" forecast, so a bar to its left is a model that lost to it. The y axis
    is a category axis: a numeric one would place no bar at a text label.
    """
    rows = [r for r in rows if isinstance(r.get("skill"), (int, float))]
    if not rows:
        return empty_figure(title, "No finished runs yet")
    fig = base_figure(title, x_title="skill = 1 − RMSE / naive RMSE (> 0: beats naive)")
    skills = [float(r["skill"]) for r in rows]
    fig.add_bar(
        y=[r["label"] for r in rows],
        x=skills,
        orientation="h",
        marker_color=[cell_color(r.get("cell", "")) for r in rows],
        hovertemplate="%{y}<br>skill %{x:+.4f}<extra></extra>",
    )
    reach = max(abs(s) for s in skills if np.isfinite(s)) if any(map(np.isfinite, skills)) else 1
    fig.update_xaxes(range=[-1.15 * reach, 1.15 * reach], zeroline=False)  # naive in the middle
    spanning(fig, "vline", 0, "naive", line={"dash": "dot", "color": NEUTRAL})
    fig.update_yaxes(type="category", autorange="reversed")  # newest first, as listed
    fig.update_layout(hovermode="closest", height=140 + 30 * len(rows), margin_t=48)
    return fig
