"""Home: what Gradient Lab is, the bundled S&P 500 on screen at once, where to go next."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import svgplot
from core.errors import UserError
from core.overview import load_overview
from core.record_rows import ListingView
from core.records import RunState
from pages.lib import words
from pages.lib.ui import (
    RESULTS_PAGE,
    TRAIN_PAGE,
    get_store,
    run_label,
    run_name,
    show_error,
    through_router,
    with_periods,
)

through_router()  # first: a fresh server's deep link must run app.py

RECENT = 5  # runs listed on the home page; the Runs page has all of them


@st.cache_resource(show_spinner=False)
def overview(ticker: str) -> tuple[str, str]:
    """The bundled series as a static SVG and its caption, built once per server. Static on
    purpose: the first page then needs no plotly.js (a 4.7 MB bundle the browser would parse
    before drawing); the pages that analyse runs keep interactive plotly charts. Its weekly
    closes come from a small JSON file saved beside the parquet: no pandas on this page."""
    weekly = load_overview(ticker)  # a fifth of the points, same shape
    label = f"S&P 500 ({ticker}), bundled data: weekly closes"
    span = (
        f"Daily closes from {weekly['first']} to {weekly['last']} ({weekly['rows']:,} trading "
        f"days), drawn as {len(weekly['closes']):,} weekly closes"
    )
    return svgplot.price_svg(weekly["dates"], weekly["closes"], label), f"{span}."


@st.cache_resource(max_entries=16, show_spinner=False)
def skill_figure(bars: tuple[tuple[str, str, float], ...]) -> Any:
    """The skill chart for these (label, cell, skill) bars, built once and shared: Home
    reruns (a returning user, the sidebar's refresh) only send it."""
    from core import plots  # here: a newcomer's first page loads neither plotly nor pandas

    return plots.skill_chart([dict(label=b[0], cell=b[1], skill=b[2]) for b in bars])


def _created(row: ListingView) -> str:
    return row.created or ""


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

# Two cards, each a bordered box with a wide link and a line on what is behind it, so they
# read as the two ways in rather than as text.
NEXT = (
    (TRAIN_PAGE, "Train a model", ":material/model_training:", "Pick a cell and watch it learn."),
    ("pages/theory.py", "Why gradients vanish", ":material/functions:", "The maths, live."),
)
for col, (page, label, icon, line) in zip(st.columns(2), NEXT, strict=True):
    card = col.container(border=True)
    card.page_link(page, label=f"**{label}**", icon=icon, width="stretch")
    card.caption(line)
words.preset_button("home_preset")  # the experiment that shows it, one click

try:
    svg, caption = overview("^GSPC")
    st.image(svg, width="stretch")
    st.caption(caption)
except UserError as exc:
    show_error(exc)

st.subheader("Recent runs")
try:
    listing = [ListingView.of(r) for r in get_store().list_runs()]
    runs = sorted(listing, key=_created, reverse=True)
except UserError as exc:
    show_error(exc)
    runs = []
if not runs:
    st.info("No runs yet: train one on the Train page; the first takes under a minute on a CPU.")
recent = with_periods(runs[:RECENT])
for row in recent:
    st.page_link(RESULTS_PAGE, label=run_label(row), query_params={"run": row.run_id})
# A returning user's runs against the naive forecast at a glance. Its plotly chart, drawn
# after the rest, also brings plotly.js into the browser for the Results page they open next.
bars = tuple(
    (f"{run_name(row)} · {row.run_id[:6]}", row.cell or "", row.skill)
    for row in recent
    if row.state is RunState.DONE and row.skill is not None
)
if bars:
    st.plotly_chart(skill_figure(bars), key="home_skill_chart")
