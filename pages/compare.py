"""Compare: the same data and settings, several cells × several seeds, judged honestly.

A comparison is a set of run ids. It comes from the form (prices from the same sources as
Train, pages/sources.py: bundled, Yahoo Finance or a CSV upload; missing runs are submitted,
finished ones reused from the store) or from runs already in the store that differ only in
cell and seed. Results show seed spread, the naive baseline and a Diebold-Mariano verdict.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import streamlit as st

from core import evaluation, jobs, plots
from core.config import CELLS, OPTIMIZERS, RunSpec
from core.errors import UserError
from pages import words
from pages.sources import data_source  # the same data sources as Train
from pages.ui import cell_name, get_store, show_error

IDS_KEY = "compare_run_ids"  # the comparison on screen, kept across reruns
ACTIVE = ("queued", "running")
METRICS = {
    "rmse": "RMSE (price)",
    "mae": "MAE (price)",
    "skill": "Skill vs naive",
    "directional_accuracy": "Direction right",
}


def _base_spec() -> tuple[bool, RunSpec, list[str], int, pd.DataFrame] | None:
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
        lookback = c1.number_input("Lookback (days)", 2, 1000, 30, key="compare_lookback")
        layers = c2.number_input("Layers", 1, 4, 1, key="compare_layers")
        units = c2.number_input("Units per layer", 1, 512, 32, key="compare_units")
        dropout = c2.slider("Input dropout", 0.0, 0.9, 0.0, 0.05, key="compare_dropout")
        optimizer = c3.selectbox("Optimizer", OPTIMIZERS, key="compare_optimizer")
        lr = c3.number_input("Learning rate", 1e-6, 10.0, 1e-3, format="%.5f", key="compare_lr")
        epochs = c3.number_input("Epochs", 1, 1000, 20, key="compare_epochs")
        patience = c1.number_input("Patience (0 = off)", 0, 1000, 5, key="compare_patience")
        cells = st.multiselect(
            "Cells", CELLS, default=["lstm", "gru"], format_func=cell_name, key="compare_cells"
        )
        seeds = st.slider("Seeds per cell", 1, 10, 3, key="compare_seeds")
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
    return submitted, spec, cells, seeds, prices


def submit_all(spec: RunSpec, cells: list[str], seeds: int, prices: pd.DataFrame) -> None:
    if not cells:
        raise UserError("pick at least one cell to compare (two or more to compare them)")
    ids, reused = [], 0
    for cell, seed in itertools.product(cells, range(seeds)):
        sub = jobs.submit(spec.replace(cell=cell, seed=seed).validate(), prices)
        ids.append(sub.run_id)
        reused += bool(sub.cached)
    st.session_state[IDS_KEY] = ids
    if reused:
        st.success(f"{reused} of {len(ids)} runs served from the run store: trained before.")


def _record(store, rid: str) -> dict | None:
    try:
        return store.read_json(rid, "spec.json")
    except ValueError:
        return None


def stored_groups() -> dict[str, list[str]]:
    """Finished runs that differ only in cell and seed, keyed by a readable label."""
    store = get_store()
    groups: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for row in store.list_runs():
        rec = _record(store, row["run_id"]) if row.get("state") == "done" else None
        if not rec or row.get("damaged"):
            continue
        spec = json.loads(json.dumps(rec["spec"]))
        spec["model"].pop("cell")
        spec["train"].pop("seed")
        fp = str(rec.get("data_fingerprint"))
        key = json.dumps([spec, fp], sort_keys=True)
        groups.setdefault(key, []).append(row["run_id"])
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
                _, spec, cells, seeds, prices = chosen
                submit_all(spec.validate(), cells, seeds, prices)
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


@st.fragment(run_every=1.0)
def progress(ids: list[str]) -> None:
    store = get_store()
    states = {rid: store.status(rid) for rid in ids}
    if all(s.get("state") not in ACTIVE for s in states.values()):
        st.rerun()
    for rid, s in states.items():
        epoch, epochs = int(s.get("epoch") or 0), int(s.get("epochs") or 0)
        spec = store.spec(rid)
        text = f"{cell_name(spec.model.cell)} seed {spec.train.seed}: {s.get('state')}"
        st.progress(min(epoch / epochs, 1.0) if epochs else 0.0, text=f"{text} {epoch}/{epochs}")
    if st.button("Cancel all", key="compare_cancel"):
        for rid, s in states.items():
            if s.get("state") in ACTIVE:
                jobs.cancel(rid)
        st.rerun()


def load_runs(ids: list[str]) -> dict[str, list[dict]]:
    """Finished runs by cell: spec, metrics rows, gradients through time, predictions, summary."""
    store = get_store()
    per_cell: dict[str, list[dict]] = {}
    for rid in ids:
        if store.status(rid).get("state") != "done":
            continue
        spec = store.spec(rid)
        per_cell.setdefault(spec.model.cell, []).append(
            dict(
                id=rid,
                seed=spec.train.seed,
                rows=store.metrics(rid),
                gtt=store.gradients_through_time(rid),
                pred=store.predictions(rid),
                summary=store.summary(rid) or {},
            )
        )
    return dict(sorted(per_cell.items(), key=lambda kv: CELLS.index(kv[0])))


def seed_mean_predictions(runs: list[dict]) -> pd.DataFrame:
    """Test-split predictions averaged over seeds, one row per date (the cell's forecast)."""
    frames = [r["pred"] for r in runs if r["pred"] is not None]
    test = pd.concat(frames)
    test = test[test["split"] == "test"]
    return test.groupby("date", as_index=False).agg(
        split=("split", "first"),
        actual_price=("actual_price", "first"),
        predicted_price=("predicted_price", "mean"),
        naive_price=("naive_price", "first"),
    )


def _mean_std(values: list[float], fmt: str) -> str:
    vals = np.array([v for v in values if isinstance(v, (int, float))], dtype=float)
    if vals.size == 0:
        return "–"
    if vals.size == 1:
        return f"{vals[0]:{fmt}}"
    return f"{vals.mean():{fmt}} ± {vals.std(ddof=1):{fmt}}"


def metrics_table(per_cell: dict[str, list[dict]]) -> pd.DataFrame:
    fmts = {"rmse": ".3f", "mae": ".3f", "skill": "+.4f", "directional_accuracy": ".3f"}
    rows, naive = [], {}
    for cell, runs in per_cell.items():
        ms = [r["summary"].get("metrics") or {} for r in runs]
        row = {"cell": cell_name(cell), "seeds": len(runs)}
        row |= {label: _mean_std([m.get(k) for m in ms], fmts[k]) for k, label in METRICS.items()}
        row["train time (s)"] = _mean_std([r["summary"].get("train_seconds") for r in runs], ".1f")
        row["parameters"] = str(runs[0]["summary"].get("params", "–"))
        rows.append(row)
        naive = {"rmse": ms[0].get("naive_rmse"), "mae": ms[0].get("naive_mae")}
    rows.append(
        {
            "cell": "naive (tomorrow = today)",
            "seeds": 0,
            METRICS["rmse"]: _mean_std([naive.get("rmse")], ".3f"),
            METRICS["mae"]: _mean_std([naive.get("mae")], ".3f"),
            METRICS["skill"]: "0",
        }
    )
    return pd.DataFrame(rows).fillna("–").astype(str)


def verdicts(per_cell: dict[str, list[dict]]) -> list[tuple[str, str, bool]]:
    """(pair, verdict, is_noise) per pair of cells, on seed-averaged test errors."""
    errors = {}
    for cell, runs in per_cell.items():
        mean = seed_mean_predictions(runs).set_index("date")
        errors[cell] = mean["predicted_price"] - mean["actual_price"]
    out = []
    for a, b in itertools.combinations(errors, 2):
        e = pd.concat([errors[a], errors[b]], axis=1, join="inner").to_numpy()
        text = evaluation.dm_verdict(cell_name(a), e[:, 0], cell_name(b), e[:, 1])
        out.append((f"{cell_name(a)} vs {cell_name(b)}", text, text.startswith("no significant")))
    return out


def _gtt_last_epoch(runs: list[dict]) -> list[float]:
    last = [r["gtt"]["norms"][-1] for r in runs if r["gtt"] and r["gtt"].get("norms")]
    return np.mean(np.array(last, dtype=float), axis=0).tolist() if last else []


def show_results(per_cell: dict[str, list[dict]]) -> None:
    st.plotly_chart(
        plots.val_loss_band({c: [r["rows"] for r in rs] for c, rs in per_cell.items()}),
        key="compare_val_band",
    )
    st.subheader("Test metrics: mean ± std over seeds")
    st.dataframe(metrics_table(per_cell), hide_index=True, key="compare_table")
    if any(len(rs) < 3 for rs in per_cell.values()):
        st.caption("With fewer than 3 seeds per cell the ± spread is a rough guess: add seeds.")
    st.subheader("Is the difference real? (Diebold-Mariano on seed-averaged test errors)")
    results = verdicts(per_cell)
    for pair, text, _ in results:
        st.markdown(f"**{pair}:** {text}")
    if results and all(noise for _, _, noise in results):
        st.info(
            "The differences between cells are noise: no cell forecasts measurably better "
            "than another on this test period."
        )
    elif not results:
        st.info("Only one cell here: pick two or more cells to compare them.")
    series = {
        f"{cell_name(c)} (mean of {len(rs)})": (_gtt_last_epoch(rs), c)
        for c, rs in per_cell.items()
    }
    st.plotly_chart(plots.gtt_lines(series, "Gradient through time, last epoch"), key="compare_gtt")
    overlay = {
        f"{cell_name(c)} (seed mean)": (seed_mean_predictions(rs), c) for c, rs in per_cell.items()
    }
    st.plotly_chart(plots.predictions_overlay(overlay), key="compare_overlay")


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
    if any(store.status(rid).get("state") in ACTIVE for rid in ids):
        progress(ids)
        st.stop()
    per_cell = load_runs(ids)
    if not per_cell:
        st.warning("None of these runs finished: see the Runs page for their errors.")
        st.stop()
    show_results(per_cell)
    words.horizon_by_cell(store, ids)
except UserError as exc:
    show_error(exc)
