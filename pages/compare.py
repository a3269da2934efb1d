"""Compare: the same data and settings, several cells × several seeds, judged honestly.

A comparison is a set of run ids. It comes from the form (prices from the same sources as
Train, pages/lib/sources.py: bundled, Yahoo Finance or a CSV upload; missing runs are submitted,
finished ones reused from the store) or from runs already in the store that differ only in
cell and seed. Every number and verdict comes from core.compare (the engine the CLI uses
too): seed spread, the naive baseline, Holm-adjusted Diebold-Mariano tests and, with
walk-forward folds, the pooled verdict beside each fold's skill. This page only draws.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, NamedTuple

import pandas as pd
import streamlit as st

from core import compare, jobs, plots, plots_compare
from core.config import (
    CELLS,
    DEFAULT_FOLDS,
    DEFAULT_SEEDS,
    FOLDS,
    OPTIMIZERS,
    SEEDS,
    RunSpec,
    widget,
)
from core.errors import UserError
from core.fmt import mean_std as _mean_std
from core.record_rows import GradientsView, ListingView, Period, RecordView
from core.record_views import StatusView
from pages.lib import words
from pages.lib.sources import data_source  # the same data sources as Train
from pages.lib.ui import cell_name, get_store, may_manage, show_error, through_router

through_router()  # first: a fresh server's deep link must run app.py

IDS_KEY = "compare_run_ids"  # the comparison on screen, kept across reruns
FOLDS_KEY = "compare_folds"  # walk-forward: [{test_start, test_end, run_ids}] or None
# Table columns in Results' units and formats: key → (title, format of mean and of std).
COLUMNS = {
    "rmse": ("RMSE (price)", "{:.2f}", "{:.2f}"),
    "mae": ("MAE (price)", "{:.2f}", "{:.2f}"),
    "mape": ("MAPE", "{:.3f}%", "{:.3f}%"),
    "return_rmse": ("RMSE (return)", "{:.5f}", "{:.5f}"),
    "skill": ("Skill vs naive", "{:+.4f}", "{:.4f}"),
    "directional_accuracy": ("Direction right", "{:.1%}", "{:.1%}"),
    "direction_baseline": ("Majority direction", "{:.1%}", "{:.1%}"),
    "train_seconds": ("Train time (s)", "{:.1f}", "{:.1f}"),
}


def _base_spec() -> tuple[bool, RunSpec, list[str], int, pd.DataFrame, int] | None:
    """The prices (the same sources as Train), then one form for the shared settings and
    which cells and how many seeds; None while a CSV upload is awaited."""
    chosen = data_source("compare")  # opens on sources.DEFAULT_FROM, as Train
    if chosen is None:
        return None
    prices, source_fields = chosen
    if prices is not None and len(prices):  # None: a memory task
        first, last = prices.index[0], prices.index[-1]
        st.caption(f"{len(prices):,} trading days, {first:%Y-%m-%d} to {last:%Y-%m-%d}.")
    with st.form("compare_form"):
        c1, c2, c3 = st.columns(3)
        lookback = c1.number_input("Lookback (days)", **widget("lookback"), key="compare_lookback")
        layers = c2.number_input("Layers", **widget("layers"), key="compare_layers")
        units = c2.number_input("Units per layer", **widget("units"), key="compare_units")
        dropout = c2.slider("Input dropout", **widget("dropout"), key="compare_dropout")
        optimizer = c3.selectbox("Optimizer", OPTIMIZERS, key="compare_optimizer")
        lr = c3.number_input("Learning rate", **widget("learning_rate"), key="compare_lr")
        epochs = c3.number_input("Epochs", **widget("epochs"), key="compare_epochs")
        patience = c1.number_input(
            "Patience (0 = off)", **widget("patience"), key="compare_patience"
        )
        cells = st.multiselect(
            "Cells", CELLS, default=["lstm", "gru"], format_func=cell_name, key="compare_cells"
        )
        seeds = st.slider("Seeds per cell", SEEDS.lo, SEEDS.hi, DEFAULT_SEEDS, key="compare_seeds")
        folds = st.number_input(
            "Walk-forward folds (1 = one test period)", FOLDS.lo, FOLDS.hi, DEFAULT_FOLDS,
            key="compare_folds_k",
            help="K consecutive test periods at the end of the data, each as long as an "
            "ordinary test split; every fold trains and validates only on the days before "
            "its test period. The verdict pools all folds' out-of-sample errors.",
        )  # fmt: skip
        submitted = st.form_submit_button("Compare", type="primary", key="compare_submit")
    spec = RunSpec().replace(
        **source_fields,
        lookback=lookback,
        layers=layers,
        units=units,
        dropout=dropout,
        optimizer=optimizer,
        learning_rate=lr,
        epochs=epochs,
        patience=patience,
    )
    return submitted, spec, cells, seeds, prices, int(folds)


def submit_all(
    spec: RunSpec, cells: list[str], seeds: int, prices: pd.DataFrame, folds: int = 1
) -> None:
    """Submit every cell × seed (× fold); all plans are checked before the first submit."""
    if not cells:
        raise UserError("pick at least one cell to compare (two or more to compare them)")
    plans: list[tuple[RunSpec, pd.DataFrame, Any]] = [(spec, prices, None)]
    if folds >= 2:
        from core.folds import plan_folds

        if prices is None:
            raise UserError("walk-forward folds need prices: set folds to 1 for a memory task")
        plans = [(f.spec, f.prices, f) for f in plan_folds(prices, spec, folds)]
    for fold_spec, _, _ in plans:
        for cell, seed in itertools.product(cells, range(seeds)):
            fold_spec.replace(cell=cell, seed=seed).validate()
    if (total := len(plans) * len(cells) * seeds) > jobs.max_queue():  # all or nothing
        raise UserError(
            f"this comparison is {total} runs, more than the queue holds "
            f"(GRADLAB_MAX_QUEUE={jobs.max_queue()}): use fewer cells, seeds or folds"
        )
    ids, reused, fold_rows = [], 0, []
    for fold_spec, fold_prices, fold in plans:
        fold_ids = []
        for cell, seed in itertools.product(cells, range(seeds)):
            sub = jobs.submit(fold_spec.replace(cell=cell, seed=seed).validate(), fold_prices)
            fold_ids.append(sub.run_id)
            reused += bool(sub.cached)
        ids += fold_ids
        if fold is not None:
            fold_rows.append(
                {"test_start": fold.test_start, "test_end": fold.test_end, "run_ids": fold_ids}
            )
    st.session_state[IDS_KEY] = ids
    st.session_state[FOLDS_KEY] = fold_rows or None
    if reused:
        st.success(f"{reused} of {len(ids)} runs served from the run store: trained before.")


def _record(store, rid: str) -> RecordView | None:
    try:
        return RecordView.of(store.read_json(rid, "spec.json"))
    except ValueError:
        return None


def stored_groups() -> dict[str, list[str]]:
    """Finished runs that differ only in cell and seed, keyed by a readable label."""
    store = get_store()
    groups: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for row in map(ListingView.of, store.list_runs()):
        rec = _record(store, row.run_id) if row.is_done else None
        if rec is None or not rec.spec:
            continue
        spec = json.loads(json.dumps(rec.spec))
        spec["model"].pop("cell")
        spec["train"].pop("seed")
        fp = str(rec.data_fingerprint)
        key = json.dumps([spec, fp], sort_keys=True)
        groups.setdefault(key, []).append(row.run_id)
        d, m, t = spec["data"], spec["model"], spec["train"]
        labels[key] = (
            f"{d['ticker']} · lookback {d['lookback']} · {m['layers']}×{m['units']} · "
            f"{t['epochs']} epochs · lr {t['learning_rate']:g} · data {fp[:6]}"
        )
    out = {}
    for key, ids in groups.items():
        cells = sorted({row_cell(store, rid) for rid in ids}, key=CELLS.index)
        out[f"{labels[key]} · {', '.join(map(cell_name, cells))} · {len(ids)} runs"] = ids
    return out


def row_cell(store, rid: str) -> str:
    return store.spec(rid).model.cell


def choose() -> None:
    new, stored = st.tabs(["Run a comparison", "Compare runs already in the store"])
    with new:
        try:
            chosen = _base_spec()
            if chosen is not None and chosen[0]:  # submitted
                _, spec, cells, seeds, prices, folds = chosen
                submit_all(spec.validate(), cells, seeds, prices, folds)
        except UserError as exc:
            show_error(exc)
    with stored:
        groups = stored_groups()
        if not groups:
            st.info("No finished runs yet: run a comparison or train on the Train page.")
            return
        label = st.selectbox("Runs that share data and settings", list(groups), key="compare_group")
        if st.button("Compare these runs", key="compare_stored"):
            st.session_state[IDS_KEY] = groups[label]
            st.session_state[FOLDS_KEY] = None


@st.fragment(run_every=1.0)
def progress(ids: list[str]) -> None:
    store = get_store()
    ids = present(store, ids)
    states = {rid: StatusView.of(store.status(rid)) for rid in ids}
    if not any(s.is_active for s in states.values()):
        st.rerun()
    for rid, s in states.items():
        epoch, epochs = s.epoch or 0, s.epochs or 0
        try:
            spec = store.spec(rid)
        except UserError:  # deleted elsewhere since present() looked
            continue
        text = f"{cell_name(spec.model.cell)} seed {spec.train.seed}: {s.state_text}"
        st.progress(min(epoch / epochs, 1.0) if epochs else 0.0, text=f"{text} {epoch}/{epochs}")
    if st.button("Cancel all", key="compare_cancel"):
        for rid, s in states.items():
            if s.is_active and may_manage(rid):  # login on: own runs only
                jobs.cancel(rid)
        st.rerun()


def present(store: Any, ids: list[str]) -> list[str]:
    """ids whose runs still exist; runs deleted elsewhere leave the comparison, with a note."""
    kept = [rid for rid in ids if store.run_dir(rid).exists()]
    if len(kept) < len(ids):
        st.session_state[IDS_KEY] = kept
        folds = st.session_state.get(FOLDS_KEY) or []
        for fold in folds:
            fold["run_ids"] = [rid for rid in fold["run_ids"] if rid in kept]
        st.warning(f"{len(ids) - len(kept)} run(s) of this comparison were deleted elsewhere.")
    return kept


class CellRun(NamedTuple):
    """One finished run of a cell, as the charts take it."""

    run_id: str
    rows: list[dict[str, Any]]  # metrics.jsonl, for plots.val_loss_band
    gtt: GradientsView


def load_runs(ids: list[str]) -> dict[str, list[CellRun]]:
    """Finished runs by cell (for the charts): metrics rows and gradients through time."""
    store = get_store()
    per_cell: dict[str, list[CellRun]] = {}
    for rid in ids:
        if not StatusView.of(store.status(rid)).is_done:
            continue
        spec = store.spec(rid)
        gtt = GradientsView.of(store.gradients_through_time(rid))
        per_cell.setdefault(spec.model.cell, []).append(CellRun(rid, store.metrics(rid), gtt))
    return dict(sorted(per_cell.items(), key=lambda kv: CELLS.index(kv[0])))


def engine_runs(ids: list[str], folds: list[dict] | None) -> Any:
    """What core.compare takes: {cell: ids}, or one such dict per walk-forward fold."""
    store = get_store()
    if folds:
        return [compare.runs_by_cell(store, f["run_ids"]) for f in folds]
    return compare.runs_by_cell(store, ids)


def metrics_table(report: dict) -> pd.DataFrame:
    """One row per cell (mean ± std over its runs) and the naive forecast's row."""
    rows = []
    verdicts = {r["cell"]: r["verdict"] for r in report.get("vs_naive", [])}
    for cell, info in report["cells"].items():
        row = {"cell": cell_name(cell), "runs": str(info["done"])}
        for key, (title, fmt, sfmt) in COLUMNS.items():
            row[title] = _mean_std(info["metrics"].get(key), fmt, sfmt)
        row["parameters"] = f"{info['params']:,}" if info.get("params") else "–"
        row["seed-mean forecast vs naive"] = verdicts.get(cell, "–")
        rows.append(row)
    naive = report.get("naive") or {}
    row = {"cell": "naive (tomorrow = today)", "runs": "–"}
    for key, (title, fmt, _) in COLUMNS.items():
        value = 0.0 if key == "skill" else naive.get(key)
        row[title] = fmt.format(value) if isinstance(value, (int, float)) else "–"
    rows.append(row)
    return pd.DataFrame(rows).fillna("–").astype(str)


def _gtt_rows(runs: list[CellRun], which: str) -> list[list[float]]:
    rows = [plots_compare.gtt_norms(r.gtt.raw or None, which) for r in runs]
    return [r for r in rows if r]


def gradient_band(per_cell: dict[str, list[CellRun]]) -> None:
    has_kept = any(r.gtt.kept_norms for rs in per_cell.values() for r in rs)
    options = ["weights kept (best epoch)", "last epoch"] if has_kept else ["last epoch"]
    which = st.radio("Gradients of", options, horizontal=True, key="compare_gtt_which")
    kind = "kept" if which.startswith("weights kept") else "last"
    series = {c: _gtt_rows(rs, kind) for c, rs in per_cell.items()}
    title = f"Gradient through time, {which}: mean ± std over seeds"
    st.plotly_chart(plots_compare.gtt_band(series, title), key="compare_gtt")


def show_verdict(report: dict) -> None:
    pairs = report.get("pairs") or []
    for pair in pairs:
        st.markdown(f"**{cell_name(pair['a'])} vs {cell_name(pair['b'])}:** {pair['verdict']}")
    for row in report.get("vs_naive") or []:
        st.markdown(f"**{cell_name(row['cell'])} vs naive:** {row['verdict']}")
    if not pairs:
        st.info("Only one cell here: pick two or more cells to compare them.")
    text = report["verdict"]
    lost = text.startswith("Every cell lost")
    (st.warning if lost or text.startswith("No cell") else st.success)(text)


def _data_and_period(store: Any, ids: list[str]) -> str:
    """'^GSPC (bundled sample), test split Aug 2017 – Dec 2018: every row on the same days.'
    The data and test days the table's numbers were measured on (issue 17: RMSEs compare only
    within one data set and period)."""
    from core.periods import run_period, span
    from core.spec_words import SOURCES

    data_spec = store.spec(ids[0]).data if ids else None
    periods = {Period.of(run_period(store.root, rid)) for rid in ids}
    if data_spec is None or len(periods) != 1:
        return "The runs differ in their test days: compare their errors with care."
    (period,) = periods
    where = f"{data_spec.ticker} ({SOURCES.get(data_spec.source, data_spec.source)})"
    days = span(period.test_first, period.test_last)
    return f"Data: {where}; test split {days}: every row is measured on the same days."


def show_results(ids: list[str], folds: list[dict] | None) -> None:
    store = get_store()
    per_cell = load_runs(ids)
    st.plotly_chart(
        plots.val_loss_band({c: [r.rows for r in rs] for c, rs in per_cell.items()}),
        key="compare_val_band",
    )
    errors = st.radio("Test on", compare.ERRORS, horizontal=True, key="compare_errors",
                      format_func=lambda e: f"{e} errors" + (" (scale-free)" if e == "return"
                                                             else " (weighs days by price²)"))  # fmt: skip
    runs = engine_runs(ids, folds)
    report = compare.compare(store, runs, errors=errors)
    where = f"{len(folds)} walk-forward folds, pooled" if folds else "test split"
    st.subheader(f"Test metrics ({where}): mean ± std over runs")
    st.dataframe(metrics_table(report), hide_index=True, key="compare_table")
    if not folds:  # folds are each on their own days, named by the fold chart
        st.caption(_data_and_period(store, ids))
    if any(len(rs) < 3 for rs in per_cell.values()) and not folds:
        st.caption("With fewer than 3 seeds per cell the ± spread is a rough guess: add seeds.")
    st.subheader(f"Is the difference real? (Diebold-Mariano on seed-averaged {errors} errors)")
    show_verdict(report)
    if folds and report.get("fold_skill"):
        fig = plots_compare.fold_skill_chart(report["fold_skill"], folds)
        st.plotly_chart(fig, key="compare_fold_skill")
    gradient_band(per_cell)
    fig = plots_compare.error_panels(compare.cell_forecasts(store, runs), errors)
    st.plotly_chart(fig, key="compare_errors_chart")


st.title("Compare cells")
st.markdown(
    "Same data, same settings, several seeds per cell: differences smaller than the "
    "spread between seeds are luck, and the test below says when that is the case."
)
words.preset_panel(get_store())
choose()
ids = st.session_state.get(IDS_KEY)
if not ids:
    st.info("Run a comparison above, or pick runs already in the store.")
    st.stop()
try:
    store = get_store()
    ids = present(store, ids)
    statuses = [StatusView.of(store.status(rid)) for rid in ids]
    if any(s.is_active for s in statuses):
        progress(ids)
        st.stop()
    if not any(s.is_done for s in statuses):
        st.warning("None of these runs finished: see the Runs page for their errors.")
        st.stop()
    show_results(ids, st.session_state.get(FOLDS_KEY))
    words.horizon_by_cell(store, ids)
except UserError as exc:
    show_error(exc)
