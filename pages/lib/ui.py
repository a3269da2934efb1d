"""Shared UI helpers for every page: the run store, errors, cell badges, run labels.

No numeric logic lives here; pages call core for that. Never imports tensorflow/keras.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core import cells
from core.errors import UserError
from core.record_rows import ListingView, Period

TRAIN_PAGE = "pages/train.py"
RESULTS_PAGE = "pages/results.py"

# st.badge only knows named colours; these match the hue family of cells.CELL_COLORS.
_BADGE_COLORS = {"lstm": "blue", "gru": "orange", "rnn": "green"}


@st.cache_resource(show_spinner=False)
def _store_at(root: str) -> Any:
    from core.runs import RunStore  # here, not at the top: ui must load even if the store fails

    return RunStore(root)


def get_store() -> Any:
    """One RunStore per store root per server; keyed on the root so a changed MODELS_CACHE
    (tests, a second deployment) never reuses the old directory."""
    return _store_at(os.environ.get("MODELS_CACHE") or "models_cache")


# What could turn echoed user text (a ?run= value, a file name) into a link, an image, HTML,
# LaTeX or emphasis; ordinary punctuation stays as it is so messages read normally.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>$~|])")


def plain(text: str) -> str:
    """Text that st.error/st.markdown show literally, never as markup or a bare autolink."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text)).replace("://", ":\\/\\/")


def show_error(exc: Exception) -> None:
    """Show a user error as its message; anything else is our bug and says so."""
    if isinstance(exc, UserError):
        st.error(plain(str(exc)))
    else:
        st.error(plain(f"Something went wrong inside Gradient Lab ({type(exc).__name__}: {exc})."))


def cell_color(cell: str) -> str:
    """The one colour of a cell type on every page (grey for anything unknown)."""
    return cells.cell_color(cell)


def cell_name(cell: str) -> str:
    """'LSTM', 'GRU' or 'SimpleRNN': the one spelling of a cell on every page and chart."""
    return cells.cell_name(cell)


def cell_badge(cell: str) -> None:
    """A small coloured badge naming the cell type."""
    st.badge(cell_name(cell), color=_BADGE_COLORS.get(str(cell).lower(), "gray"))


@st.cache_data(max_entries=1024, show_spinner=False)
def _period(root: str, run_id: str, stamp: float) -> dict[str, str] | None:
    from core.periods import run_period  # pyarrow: only pages that label runs load it

    return run_period(root, run_id)


def with_periods(rows: list[ListingView]) -> list[ListingView]:
    """The rows with their forecast period (core.periods.run_period), cached per run and
    file time."""
    root, out = str(get_store().root), []
    for row in rows:
        try:
            stamp = (Path(root) / row.run_id / "predictions.parquet").stat().st_mtime
        except OSError:
            stamp = 0.0
        period = _period(root, row.run_id, stamp) if stamp and row.run_id else None
        out.append(dataclasses.replace(row, period=None if period is None else Period.of(period)))
    return out


def run_name(row: ListingView, with_data: bool = True) -> str:
    """What a person calls a run: 'LSTM 2×32 · ^GSPC · Feb 2010 – Dec 2018 · seed 0' (cell,
    data, the days it forecast, seed); the period is there once with_periods added it.
    with_data=False: 'LSTM 2×32 · seed 0', for a table with data and period columns."""
    from core.periods import span

    cell = cell_name(row.cell or "?")
    parts = [f"{cell} {row.layers or 1}×{row.units}" if row.units else cell]
    if with_data:
        parts.append(row.ticker or "?")
        period = row.period or Period()
        if span(period.first, period.last):
            parts.append(span(period.first, period.last))
    if row.seed is not None:
        parts.append(f"seed {row.seed}")
    return " · ".join(parts)


def run_label(row: ListingView) -> str:
    """One line for a selector or link: the run's name, then its state, skill and id as
    details: 'LSTM 1×32 · ^GSPC · Feb 2010 – Dec 2018 · seed 0 (done, skill +0.012, 3f2a9c1b)'."""
    details = ["damaged" if row.damaged else (row.state_text or "unknown")]
    if row.skill is not None:
        details.append(f"skill {row.skill:+.3f}")
    details.append(row.run_id[:8])
    return f"{run_name(row)} ({', '.join(details)})"


def page_link(
    page: str, label: str, icon: str | None = None, query_params: dict[str, str] | None = None
) -> None:
    """st.page_link, falling back to a plain link when the page runs outside the router
    (``streamlit run pages/x.py`` or an AppTest of one page), where st.page_link refuses."""
    try:
        st.page_link(page, label=label, icon=icon, query_params=query_params)
    except StreamlitPageNotFoundError:
        url = "/" + Path(page).stem  # st.navigation's url_path for a file page
        if query_params:
            url += "?" + urlencode(query_params)
        st.markdown(f"[{label}]({url})")


def empty_state(msg: str = "No runs yet: train one.", link_page: str = TRAIN_PAGE) -> None:
    """An info box plus a link to the page that fixes the emptiness."""
    st.info(msg)
    page_link(link_page, label="Go to Train", icon=":material/model_training:")


ROUTED_KEY = "gradlab_routed"  # set by app.py in every session it has served


def through_router() -> None:
    """Send this page through app.py whatever URL a new server serves first; call it first.

    Streamlit 1.67 routes a server by its old pages/ discovery until some session has called
    st.navigation, so a deep link (/train, /results?run=...) as a fresh server's first
    request ran the page alone: no sidebar, no queue, no settings check, no login gate.
    Telling Streamlit that navigation is in use, then rerunning, sends the same URL through
    app.py, whose st.navigation resolves it to this page (a page's hash is its URL path).
    A server keeps the flag from then on. AppTest sets it back before each of its runs; a
    session app.py has served is not rerun there, where a rerun would swallow a click.
    tests/e2e/test_deep_link.py opens a fresh server on a deep link.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        if not st.session_state.get(ROUTED_KEY):
            st.rerun()


def login_enabled() -> bool:
    """Login (st.login) is on when .streamlit/secrets.toml has an [auth] section."""
    # No secrets file at all: login is off, and the quick start stays two commands.
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def current_user() -> str | None:
    """The signed-in user's e-mail (lower case); None with login off or nobody signed in."""
    if not login_enabled() or not st.user.get("is_logged_in"):
        return None
    email = st.user.get("email")
    return str(email).lower() if email else None


def act_as_current_user() -> None:
    """Tell core who acts in this script run: runs record their owner, delete/cancel check."""
    from core import owners

    owners.acting_as(current_user(), login=login_enabled())


def may_manage(run_id: str) -> bool:
    """Whether the current user may cancel or delete run_id (always, with login off)."""
    from core import owners

    act_as_current_user()
    login, user = login_enabled(), current_user()
    return owners.may_manage(get_store().owner(run_id), user, login)
