"""Home: what Gradient Lab is, the bundled S&P 500 on screen at once, where to go next."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import data, plots
from core.errors import UserError
from pages.ui import RESULTS_PAGE, TRAIN_PAGE, get_store, run_label, show_error

RECENT = 5  # runs listed on the home page; the Runs page has all of them


@st.cache_resource(show_spinner=False)
def overview(ticker: str) -> tuple[Any, str]:
    """The bundled series' chart and caption, built once per server: every visitor sees the
    same figure, so it is shared, not copied. Weekly closes (a fifth of the 5,000 days, the
    same shape) keep the first page quick to draw."""
    prices = data.load_prices(source="sample", ticker=ticker)
    title = f"S&P 500 ({ticker}), bundled data: weekly closes"
    fig = plots.price_chart(data.price_series(prices), title=title, weekly=True)
    first, last = prices.index[0], prices.index[-1]
    return fig, f"{len(prices):,} trading days, {first:%Y-%m-%d} to {last:%Y-%m-%d}."


def _created(row: dict) -> str:
    status = row.get("status") if isinstance(row.get("status"), dict) else {}
    return str(row.get("created") or status.get("started") or "")


st.title("Gradient Lab")
st.markdown(
    "Train LSTM, GRU and SimpleRNN networks on daily stock prices and watch them learn: "
    "losses, per-layer gradient norms, gradients flowing back through time and the spectral "
    "radius of each recurrent kernel, so the vanishing and exploding gradient problem is "
    "something you see rather than read about. Every model stands beside the naive "
    '"tomorrow = today" forecast on a chronological train / validation / test split, and '
    "cells are compared over several seeds with a Diebold-Mariano test, so a lucky seed is "
    "never mistaken for a better architecture."
)

left, right = st.columns(2)
left.page_link(TRAIN_PAGE, label="Train a model", icon=":material/model_training:")
right.page_link("pages/theory.py", label="Why gradients vanish", icon=":material/functions:")

try:
    figure, caption = overview("^GSPC")
    st.plotly_chart(figure, key="home_price_chart")
    st.caption(caption)
except UserError as exc:
    show_error(exc)

st.subheader("Recent runs")
try:
    runs = sorted(get_store().list_runs(), key=_created, reverse=True)
except UserError as exc:
    show_error(exc)
    runs = []
if not runs:
    st.info("No runs yet: train one on the Train page; the first takes under a minute on a CPU.")
for row in runs[:RECENT]:
    run_id = str(row.get("run_id") or row.get("id"))
    st.page_link(RESULTS_PAGE, label=run_label(row), query_params={"run": run_id})
