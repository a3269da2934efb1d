"""Runs: everything in the run store, with open, delete and cancel, and the disk it takes.

Selection is by run id, never by row position. The table's widget key is a digest of the
run ids in the order shown, so a row position is only ever read against the very table the
user clicked in: if a run appears or disappears (another tab, the CLI, eviction), the table
is a new widget and an old position cannot land on another run. The ids chosen are kept in
session state, and each button carries the ids it names into its callback, so a click acts
on exactly the runs its label showed.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core import evaluation, jobs, owners
from core.errors import UserError
from core.fmt import MISSING, num
from core.periods import month, span
from core.record_rows import ListingView, Period
from core.records import RunState
from pages.lib.ui import (
    RESULTS_PAGE,
    TRAIN_PAGE,
    act_as_current_user,
    empty_state,
    get_store,
    login_enabled,
    plain,
    run_name,
    through_router,
    with_periods,
)

through_router()  # first: a fresh server's deep link must run app.py

SELECTED = "runs_selected"  # the run ids chosen, as a list
NOTICE = "runs_notice"  # (success text, [refusal texts]) from the last action
COLUMNS = {  # row key -> column title, in display order; the id last, as a detail
    "name": "run",
    "data": "data",
    "test_period": "test period",
    "state": "state",
    "rmse": "test RMSE (price)",
    "skill": "skill",
    "vs_naive": "vs naive",
    "memory_horizon": "memory horizon",
    "created": "created",
    "size_mb": "size MB",
    "run_id": "id",
}
HIDDEN = ("id", "size MB")  # in the frame, not on screen: the caption has the total size
WIDTHS = {"run": 165, "data": 110, "test period": 140, "state": 65, "test RMSE (price)": 75}
WIDTHS |= {"skill": 70, "vs naive": 90, "memory horizon": 75, "created": 100}
SOURCE_WORDS = {"sample": "bundled", "yahoo": "Yahoo", "csv": "CSV", "task": "task"}


def _data(row: ListingView) -> str:
    """'^GSPC (bundled)', 'my-prices (CSV)': the data a run used, its source in words."""
    source = SOURCE_WORDS.get(str(row.source), row.source or "?")
    return f"{row.ticker or '?'} ({source})"


def _created(value: object) -> str:
    """'2026-11-30T04:28:18' -> '30 Nov 2026' (the hour is in the run's status)."""
    text = str(value or "")
    if len(text) < 10:
        return text
    return f"{text[8:10].lstrip('0')} {month(text[:10])}"


def table(rows: list[ListingView]) -> pd.DataFrame:
    rows = with_periods(rows)
    tests = [r.period or Period() for r in rows]
    df = pd.DataFrame(
        {
            "name": [run_name(r, with_data=False) for r in rows],  # data, period: own columns
            "data": [_data(r) for r in rows],
            "test_period": [span(p.test_first, p.test_last) for p in tests],
            "state": ["damaged" if r.damaged else (r.state_text or "?") for r in rows],
            "rmse": [r.rmse for r in rows],
            "skill": [r.skill for r in rows],
            "vs_naive": [vs_naive(r.skill, r.skill_p) for r in rows],
            # steps; a run trained before the horizon was recorded has none: MISSING, as vs naive
            "memory_horizon": [num(r.memory_horizon, "{:.0f}") for r in rows],
            "created": [_created(r.created) for r in rows],
            "size_mb": [(r.size_bytes or 0) / 2**20 for r in rows],
            "run_id": [r.run_id for r in rows],
            "owner": [r.owner for r in rows],
        }
    )
    columns = list(COLUMNS) + (["owner"] if login_enabled() else [])
    return df[columns].rename(columns=COLUMNS)


def table_key(ids: list[str]) -> str:
    """The table widget's key: changes whenever the set or order of rows changes."""
    return "runs_table_" + hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def vs_naive(skill: object, p_value: object) -> str:
    """The verdict word of core.evaluation.badge: 'beats' only for a significant win."""
    if not isinstance(skill, (int, float)) or pd.isna(skill):
        return MISSING
    p = float(p_value) if isinstance(p_value, (int, float)) and not pd.isna(p_value) else None
    words, _ = evaluation.badge(float(skill), p)
    return MISSING if words == "not tested" else words


def selected_ids(df: pd.DataFrame) -> list[str]:
    """The run ids chosen: read from this very table's positions, or kept from before."""
    shown = [str(r) for r in df["id"]]
    key = table_key(shown)
    event = st.dataframe(
        df,
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key=key,
        # Fits 1400 px without scrolling sideways: pixel widths, the id and size kept in the
        # frame (selection reads the id) but not shown; the run's Results page has the rest.
        column_order=[c for c in df.columns if c not in HIDDEN],
        column_config={c: st.column_config.Column(width=w) for c, w in WIDTHS.items()}
        | {
            "skill": st.column_config.NumberColumn(format="%+.4f", width=WIDTHS["skill"]),
            "test RMSE (price)": st.column_config.NumberColumn(
                format="%.2f",
                width=WIDTHS["test RMSE (price)"],
                help="Comparable only between runs with the same data and test period",
            ),
        },
    )
    if st.session_state.get("runs_table_key") == key or event.selection.rows:
        # The user chose in this table: its positions index exactly `shown`.
        chosen = [shown[i] for i in event.selection.rows if 0 <= i < len(shown)]
        st.session_state["runs_table_key"] = key
    else:  # the table changed since the choice: keep the ids, dropping any now gone
        chosen = [rid for rid in st.session_state.get(SELECTED, []) if rid in shown]
    st.session_state[SELECTED] = chosen
    return chosen


def actions(ids: list[str], active_ids: set[str]) -> None:
    """Open, delete and cancel for the chosen runs; each button acts on the ids it names."""
    if not ids:
        st.caption("Select rows in the table to open, delete or cancel runs.")
        return
    st.caption("Selected: " + ", ".join(f"`{rid}`" for rid in ids))
    st.page_link(RESULTS_PAGE, label=f"Open {ids[0]} in Results", query_params={"run": ids[0]})
    left, right = st.columns(2)
    left.button(
        f"Delete {len(ids)} selected",
        key="runs_delete",
        on_click=_each,
        args=(tuple(ids), "delete", "deleted"),
    )
    active = tuple(rid for rid in ids if rid in active_ids)
    right.button(
        f"Cancel {len(active)} queued/running",
        key="runs_cancel",
        disabled=not active,
        on_click=_each,
        args=(active, "cancel", "cancelled"),
    )


def _act(action: str, rid: str) -> None:
    act_as_current_user()  # callbacks run before the page: name who acts, then check
    if action == "delete":  # the store checks the owner itself
        get_store().delete(rid)
    else:
        owners.check_current(rid, get_store().owner(rid))
        jobs.cancel(rid, get_store())


def _each(ids: tuple[str, ...], action: str, done: str) -> None:
    """Apply action to every id; refusals (say, deleting a running run) are kept for display."""
    acted, refusals = [], []
    for rid in ids:
        try:
            _act(action, rid)
            acted.append(rid)
        except UserError as exc:
            refusals.append(str(exc))
    if action == "delete":  # deleted runs leave the selection; it never slides to a neighbour
        chosen = st.session_state.get(SELECTED, [])
        st.session_state[SELECTED] = [rid for rid in chosen if rid not in acted]
        st.session_state.pop("runs_table_key", None)
    st.session_state[NOTICE] = (f"{len(acted)} run(s) {done}." if acted else "", refusals)


def show_notice() -> None:
    text, refusals = st.session_state.pop(NOTICE, ("", []))
    if text:
        st.success(text)
    for refusal in refusals:
        st.error(plain(refusal))


def clear_failed(rows: list[ListingView]) -> None:
    failed = tuple(r.run_id for r in rows if r.state is RunState.FAILED)
    st.button(
        f"Clear failed runs ({len(failed)})",
        key="runs_clear",
        disabled=not failed,
        on_click=_each,
        args=(failed, "delete", "deleted"),
    )


st.title("Runs")
try:
    rows = [ListingView.of(r) for r in get_store().list_runs()]
except UserError as exc:
    st.error(plain(str(exc)))
    st.stop()
show_notice()
if not rows:
    empty_state("No runs yet: train one.", TRAIN_PAGE)
    st.stop()
total_mb = sum(r.size_bytes or 0 for r in rows) / 2**20
st.caption(f"{len(rows)} runs using {total_mb:,.1f} MB on disk.")
df = table(rows)
ids = selected_ids(df)
actions(ids, {r.run_id for r in rows if r.is_active})
clear_failed(rows)
