"""Runs: everything in the run store, with open, delete and cancel, and the disk it takes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import jobs
from core.errors import UserError
from pages.ui import RESULTS_PAGE, TRAIN_PAGE, cell_name, empty_state, get_store, show_error

ACTIVE = ("queued", "running")
COLUMNS = {  # list_runs() key -> column title, in display order
    "run_id": "run",
    "ticker": "ticker",
    "cell": "cell",
    "layers": "layers",
    "units": "units",
    "lookback": "lookback",
    "epochs": "epochs",
    "seed": "seed",
    "lr": "learning rate",
    "state": "state",
    "rmse": "test RMSE",
    "skill": "skill",
    "created": "created",
    "duration": "train s",
    "size_mb": "size MB",
}


def table(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["size_mb"] = df["size_bytes"].fillna(0) / 2**20
    df["cell"] = df["cell"].map(lambda c: cell_name(c) if isinstance(c, str) else "?")
    damaged = df["damaged"].fillna(False).astype(bool)
    df["state"] = df["state"].fillna("?").astype(str).where(~damaged, "damaged")
    return df[list(COLUMNS)].rename(columns=COLUMNS)


def selected_ids(df: pd.DataFrame) -> list[str]:
    event = st.dataframe(
        df,
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key="runs_table",
        column_config={
            "skill": st.column_config.NumberColumn(format="%+.4f"),
            "test RMSE": st.column_config.NumberColumn(format="%.3f"),
            "train s": st.column_config.NumberColumn(format="%.1f"),
            "size MB": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    return [str(df.iloc[i]["run"]) for i in event.selection.rows if i < len(df)]


def actions(ids: list[str], states: dict[str, str]) -> None:
    """Open, delete and cancel for the selected rows; each acts on every selected run."""
    if not ids:
        st.caption("Select rows in the table to open, delete or cancel runs.")
        return
    st.page_link(RESULTS_PAGE, label=f"Open {ids[0]} in Results", query_params={"run": ids[0]})
    left, right = st.columns(2)
    if left.button(f"Delete {len(ids)} selected", key="runs_delete"):
        _each(ids, get_store().delete, "deleted")
    active = [rid for rid in ids if states.get(rid) in ACTIVE]
    if right.button(f"Cancel {len(active)} queued/running", key="runs_cancel", disabled=not active):
        _each(active, jobs.cancel, "cancelled")


def _each(ids: list[str], action, done: str) -> None:
    """Apply action to every id; a refusal (say, deleting a running run) is shown, not raised."""
    count = 0
    for rid in ids:
        try:
            action(rid)
            count += 1
        except UserError as exc:
            show_error(exc)
    if count:
        st.session_state["runs_notice"] = f"{count} run(s) {done}."
        st.rerun()


def clear_failed(rows: list[dict]) -> None:
    failed = [r["run_id"] for r in rows if r.get("state") == "failed"]
    if st.button(f"Clear failed runs ({len(failed)})", key="runs_clear", disabled=not failed):
        _each(failed, get_store().delete, "deleted")


st.title("Runs")
try:
    rows = get_store().list_runs()
except UserError as exc:
    show_error(exc)
    st.stop()
if notice := st.session_state.pop("runs_notice", None):
    st.success(notice)
if not rows:
    empty_state("No runs yet: train one.", TRAIN_PAGE)
    st.stop()
total_mb = sum(r.get("size_bytes") or 0 for r in rows) / 2**20
st.caption(f"{len(rows)} runs using {total_mb:,.1f} MB on disk.")
df = table(rows)
ids = selected_ids(df)
actions(ids, {r["run_id"]: r.get("state") for r in rows})
clear_failed(rows)
