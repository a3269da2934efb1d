"""Sweeps: search settings per cell with Optuna, then read a hundred trials at once.

A sweep runs in its own background process (`python -m core sweep --name …`); its trials are
ordinary runs (cached, listed on Runs, openable in Results) and its study lives in the run
store's SQLite database, so this page only reads files. The winner of a sweep is a
hypothesis: "Open the best per cell in Compare" re-runs it over several seeds and lets the
comparison judge it against the other cells and the naive baseline.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import jobs, plots_sweep, sweep, sweep_run
from core.config import CELLS, DEFAULT_SEEDS, SEEDS, RunSpec, widget
from core.data import fingerprint
from core.errors import UserError
from core.record_views import SummaryView
from pages.lib.sources import data_source
from pages.lib.ui import cell_name, get_store, show_error, through_router

through_router()  # first: a fresh server's deep link must run app.py

COMPARE_IDS = "compare_run_ids"  # pages/compare.py shows the comparison of these run ids
# The page's label of each searchable setting; ranges and defaults are core.sweep's.
LABELS = {
    "learning_rate": "Learning rate",
    "units": "Units per layer",
    "layers": "Layers",
    "lookback": "Lookback (days)",
    "dropout": "Input dropout",
    "clipnorm": "Clipnorm",
}
METRICS = ("value", "rmse", "skill", "directional_accuracy", "train_seconds")


def _range_inputs() -> list[tuple[str, float, float]]:
    """(parameter, min, max) for each setting ticked for search; checked after submit."""
    raw = []
    for name, (_, low, high) in sweep.SEARCHABLE.items():
        label, on = LABELS[name], name in sweep.DEFAULT_SEARCH
        c0, c1, c2 = st.columns(3)
        if not c0.checkbox(f"Search {label.lower()}", value=on, key=f"sweeps_on_{name}"):
            continue
        a = c1.number_input(
            f"{label}: min", **widget(name, low, off=False), key=f"sweeps_lo_{name}"
        )
        b = c2.number_input(
            f"{label}: max", **widget(name, high, off=False), key=f"sweeps_hi_{name}"
        )
        raw.append((name, a, b))
    return raw


def to_ranges(raw: list[tuple[str, float, float]]) -> list[sweep.Range]:
    """Ranges as the CLI's --range would give them (log scale where it is the default)."""
    out = []
    for name, a, b in raw:
        kind, log = sweep.PARAMS[name]
        a, b = (int(a), int(b)) if kind == "int" else (float(a), float(b))
        out.append(sweep.check_range(sweep.Range(name, a, b, log)))
    return out


def start_form() -> None:
    chosen = data_source("sweeps")
    if chosen is None:
        return
    prices, source_fields = chosen
    with st.form("sweeps_form"):
        cells = st.multiselect(
            "Cells", CELLS, default=["lstm", "gru"], format_func=cell_name, key="sweeps_cells"
        )
        st.markdown("**Ranges** (learning rate, units and clipnorm on a log scale)")
        raw = _range_inputs()
        c1, c2, c3, c4 = st.columns(4)
        trials = c1.number_input(
            "Trials per cell (budget)",
            1,
            sweep.MAX_TRIALS,
            sweep.DEFAULT_TRIALS,
            key="sweeps_trials",
        )
        sampler = c2.selectbox("Sampler", sweep.SAMPLERS, key="sweeps_sampler")
        trial = sweep.TRIAL_DEFAULTS
        epochs = c3.number_input(
            "Epochs per trial", **widget("epochs", trial["epochs"]), key="sweeps_epochs"
        )
        patience = c4.number_input(
            "Patience (0 = off)", **widget("patience", trial["patience"]), key="sweeps_patience"
        )
        submitted = st.form_submit_button("Start sweep", type="primary", key="sweeps_start")
    if not submitted:
        return
    base = RunSpec().replace(**source_fields, epochs=int(epochs), patience=int(patience))
    d = sweep.make_def(base, fingerprint(prices), list(cells), to_ranges(raw), sampler, int(trials))
    sweep.check_data(d, prices)
    store = get_store()
    store.save_prices(prices, d.fingerprint)
    if sweep_run.is_running(store, d):
        st.info(f"Sweep {d.name} is already running: its trials appear below.")
    else:
        sweep_run.start_background(store, d)
        st.success(f"Sweep {d.name} started: {sweep.budget(d)} trials per cell.")
    st.session_state["sweeps_pick"] = d.name


def trials_table(store, report: dict) -> pd.DataFrame:
    """One row per trial: state, validation loss, its settings and its run's test metrics."""
    rows = []
    for t in report["trials"]:
        summary = SummaryView.of(store.summary(t["run_id"]) if t["run_id"] else None)
        m = summary.metrics
        row = {"cell": cell_name(t["cell"]), "trial": t["number"], "state": t["state"]}
        row |= {"value": t["value"], **t["params"]}
        row |= {"rmse": m.rmse, "skill": m.skill, "directional_accuracy": m.directional_accuracy}
        row |= {"train_seconds": summary.train_seconds, "run_id": t["run_id"]}
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.rename(columns={"value": "validation loss"}) if len(frame) else frame


def open_best_in_compare(report: dict, d: sweep.SweepDef, seeds: int) -> None:
    """The best settings of each cell over `seeds` seeds, then the Compare page judges them."""
    if not report["best"]:
        raise UserError("no trial has finished yet: wait for the sweep's first results")
    store = get_store()
    prices = store.load_prices(d.fingerprint)
    ids = []
    for cell, best in report["best"].items():
        for seed in range(seeds):
            spec = d.spec_for(cell, best["params"]).replace(seed=seed).validate()
            ids.append(jobs.submit(spec, prices, store).run_id)
    st.session_state[COMPARE_IDS] = ids
    st.switch_page("pages/compare.py")


@st.fragment(run_every=2.0)
def show_sweep(name: str) -> None:
    """Progress, coordinates, table and best per cell, re-read every 2 s while it runs."""
    try:
        _show_sweep(name)
    except UserError as exc:  # the fragment reruns alone: its errors are shown here
        show_error(exc)


def _show_sweep(name: str) -> None:
    store = get_store()
    d = sweep.load_def(store.root, name)
    report = sweep_run.report(store, d)
    running = sweep_run.is_running(store, d)
    n_done = sum(t["state"] != "running" for t in report["trials"])
    total = report["budget"] * len(d.cells)
    st.progress(min(n_done / total, 1.0), text=f"{n_done} of {total} trials finished"
                + (" · running" if running else ""))  # fmt: skip
    st.caption(f"{', '.join(report['ranges'])} · {d.sampler} · study in {report['storage']}")
    if not report["trials"]:
        st.info("No trials yet: the first run is being submitted.")
        return
    by = st.radio("Colour by", ["validation loss", "cell"], horizontal=True, key="sweeps_color")
    fig = plots_sweep.parallel_coordinates(report["trials"], "cell" if by == "cell" else "value")
    st.plotly_chart(fig, key="sweeps_parcoords")
    table = trials_table(store, report)
    sort = st.selectbox("Sort by", [c for c in table.columns if c not in ("run_id",)],
                        index=list(table.columns).index("validation loss"), key="sweeps_sort")  # fmt: skip
    st.dataframe(table.sort_values(sort, na_position="last"), hide_index=True, key="sweeps_table")
    for cell, best in report["best"].items():
        shown = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in best["params"].items()
        )
        st.markdown(
            f"**Best {cell_name(cell)}:** validation loss {best['value']:.5g} ({shown}), run `{best['run_id']}`"
        )


def reading(name: str) -> None:
    show_sweep(name)
    store = get_store()
    d = sweep.load_def(store.root, name)
    st.caption(
        "A sweep's winner is a hypothesis until seeds confirm it: Compare re-runs the best "
        "settings of each cell over several seeds and tests the difference."
    )
    # at least 2: one seed again would confirm nothing
    seeds = st.slider("Seeds per cell", 2, SEEDS.hi, DEFAULT_SEEDS, key="sweeps_seeds")
    if st.button("Open the best per cell in Compare", key="sweeps_to_compare"):
        open_best_in_compare(sweep_run.report(store, d), d, seeds)


st.title("Sweeps")
st.markdown(
    "Search learning rate, size, lookback, dropout and clipping per cell with Optuna. "
    "Each trial is an ordinary run judged on its **validation** loss (never the test split); "
    "hopeless ones are stopped early."
)
try:
    with st.expander("Start a sweep", expanded=not sweep.list_defs(get_store().root)):
        start_form()
except UserError as exc:
    show_error(exc)
defs = sweep.list_defs(get_store().root)
if not defs:
    st.info("No sweeps yet: start one above.")
    st.stop()
names = [x.name for x in defs]
labels = {x.name: f"{x.name} · {', '.join(map(cell_name, x.cells))} · {x.sampler}" for x in defs}
picked = st.session_state.get("sweeps_pick")
pick = st.selectbox("Sweep", names, index=names.index(picked) if picked in names else 0,
                    format_func=labels.get, key="sweeps_choice")  # fmt: skip
try:
    reading(pick)
except UserError as exc:
    show_error(exc)
