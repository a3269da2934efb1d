"""The one comparison engine: cells × seeds (× walk-forward folds) judged against each other
and against tomorrow = today. The CLI (core/cli_compare.py) and the Compare page both call
``compare`` on run ids from the store; neither computes a number of its own.

Each cell's forecast is the mean of its seeds' test predictions per date (the forecast a
seed ensemble would make); its errors are scored against the naive forecast and against the
other cells with Diebold-Mariano (HLN, h = 1). By default on log-return errors, which are
scale-free; price errors weigh a day by its price squared (P²), so late, high-priced days
would dominate. Every family of tests (cells vs naive, pairs of cells) is Holm-adjusted.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from core import evaluation
from core.cells import CELL_NAMES
from core.config import CELLS
from core.errors import UserError
from core.runs import RunStore

if TYPE_CHECKING:
    import pandas as pd

ERRORS = ("return", "price")
TASK_BASELINE = "the training mean"
# Per-seed summary metrics reported as mean ± std over seeds (and folds).
REPORTED: tuple[str, ...] = ("rmse", "mae", "mape", "return_rmse", "skill", "return_skill")
REPORTED += ("directional_accuracy", "direction_baseline", "naive_rmse")


def holm(p_values: list[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order: p_(i) · (m − i), made monotone."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def mean_std(values: list[Any]) -> dict[str, Any]:
    """{mean, std (ddof 1, 0 for one value), n} of the numbers among values."""
    vals = np.array([v for v in values if isinstance(v, (int, float))], dtype=float)
    vals = vals[np.isfinite(vals)]
    if len(vals) == 0:
        return {"mean": None, "std": None, "n": 0}
    std = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    return {"mean": float(vals.mean()), "std": std, "n": len(vals)}


def runs_by_cell(store: RunStore, ids: list[str]) -> dict[str, list[str]]:
    """Run ids grouped by cell, cells in CELLS order, ids in the given order."""
    out: dict[str, list[str]] = {}
    for rid in ids:
        out.setdefault(store.spec(rid).model.cell, []).append(rid)
    return {c: out[c] for c in CELLS if c in out}


def seed_forecast(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One cell's test forecast: predicted price and return averaged over seeds per date, on
    the dates every seed predicted; indexed by date, with actual and naive columns."""
    import pandas as pd

    test = [_as_forecast(f[f["split"] == "test"]).set_index("date") for f in frames]
    if not test:
        raise UserError("no finished run with predictions in this cell: train it first")
    common = test[0].index
    for t in test[1:]:
        common = common.intersection(t.index)
    first = test[0].loc[common]
    out = pd.DataFrame(index=common)
    for col in ("actual_price", "naive_price", "actual_return"):
        out[col] = first[col]
    for col in ("predicted_price", "predicted_return"):
        out[col] = np.mean([t.loc[common, col].to_numpy(float) for t in test], axis=0)
    return out.sort_index()


def _as_forecast(frame: pd.DataFrame) -> pd.DataFrame:
    """A memory task's frame (sample, actual, predicted, baseline) in the price frame's
    terms: the baseline (training mean) plays the naive forecast, deviations from it the
    returns, so both error kinds are predicted − actual against baseline − actual."""
    if "date" in frame.columns:
        return frame
    base = frame["baseline"]
    return frame.assign(
        date=frame["sample"], actual_price=frame["actual"], predicted_price=frame["predicted"],
        naive_price=base, actual_return=frame["actual"] - base,
        predicted_return=frame["predicted"] - base,
    )  # fmt: skip


def errors_of(forecast: pd.DataFrame, errors: str) -> tuple[np.ndarray, np.ndarray]:
    """(model errors, naive errors) on forecast's dates: log returns (naive = 0) or prices."""
    if errors == "return":
        actual = forecast["actual_return"].to_numpy(float)
        return forecast["predicted_return"].to_numpy(float) - actual, -actual
    actual = forecast["actual_price"].to_numpy(float)
    return (
        forecast["predicted_price"].to_numpy(float) - actual,
        forecast["naive_price"].to_numpy(float) - actual,
    )


def _rmse(e: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(e))))


def _skill(e_model: np.ndarray, e_naive: np.ndarray, task: bool = False) -> float | None:
    """1 − RMSE/RMSE_naive on prices (as evaluation.evaluate); on a memory task
    1 − MSE/MSE_baseline (as core.tasks), so a run has one skill on its card and here."""
    naive = _rmse(e_naive)
    if naive == 0:
        return None
    ratio = _rmse(e_model) / naive
    return evaluation.finite(1.0 - (ratio**2 if task else ratio))


def _dm(e1: np.ndarray, e2: np.ndarray) -> dict[str, Any]:
    r = evaluation.diebold_mariano(e1, e2)
    return {"stat": evaluation.finite(r["stat"]), "p_value": r["p_value"], "n": r["n"]}


def _vs_naive(
    forecasts: dict[str, pd.DataFrame], errors: str, task: bool = False
) -> list[dict[str, Any]]:
    rows = []
    for cell, fc in forecasts.items():
        e_model, e_naive = errors_of(fc, errors)
        skill = _skill(e_model, e_naive, task)
        rows.append({"cell": cell, "skill": skill, **_dm(e_model, e_naive)})
    for row, p in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_holm"] = p
        words = evaluation.verdict_vs_naive(row["skill"], {"p_value": p}, baseline=_base(task))
        row["verdict"] = words.replace("(p ", "(Holm p ")
    return rows


def _pairs(forecasts: dict[str, pd.DataFrame], errors: str, alpha: float) -> list[dict]:
    pairs = []
    for a, b in combinations(forecasts, 2):
        common = forecasts[a].index.intersection(forecasts[b].index)
        ea, _ = errors_of(forecasts[a].loc[common], errors)
        eb, _ = errors_of(forecasts[b].loc[common], errors)
        pairs.append({"a": a, "b": b, **_dm(ea, eb)})
    for pair, p in zip(pairs, holm([q["p_value"] for q in pairs]), strict=True):
        pair["p_holm"] = p
        raw, adjusted = evaluation.format_p(pair["p_value"], alpha), evaluation.format_p(p, alpha)
        shown = f"{raw}, Holm {adjusted}"
        pair["significant"] = bool(p < alpha and pair["stat"] is not None and pair["stat"] != 0)
        if pair["significant"]:
            better = pair["a"] if pair["stat"] < 0 else pair["b"]
            pair["verdict"] = f"{CELL_NAMES[better]} better ({shown})"
        else:
            pair["verdict"] = f"no significant difference ({shown})"
    return pairs


def _base(task: bool) -> str:
    """What the runs are judged against: the training mean on a memory task."""
    return TASK_BASELINE if task else evaluation.NAIVE


def verdict(vs_naive: list[dict], pairs: list[dict], alpha: float, task: bool = False) -> str:
    """The comparison in one paragraph: the naive forecast first, then the pairs."""
    base = _base(task)
    names = [CELL_NAMES[r["cell"]] for r in vs_naive]
    winners = [r for r in vs_naive if r["p_holm"] < alpha and (r["skill"] or 0) > 0]
    if vs_naive and all(r["skill"] is not None and r["skill"] <= 0 for r in vs_naive):
        head = (
            f"Every cell lost to the naive forecast ({base}): {', '.join(names)} "
            "all have skill ≤ 0 on these test days."
        )
    elif not winners:
        head = (
            f"No cell beats the naive forecast ({base}) significantly "
            f"(Holm-adjusted, α = {alpha:g}): any positive skill here is indistinguishable "
            "from luck."
        )
    else:
        head = "Beats the naive forecast significantly: " + ", ".join(
            f"{CELL_NAMES[r['cell']]} ({evaluation.format_p(r['p_holm'], alpha, 'Holm p')})"
            for r in winners
        )
        head += "."
    real = [p for p in pairs if p["significant"]]
    if not pairs:
        tail = "Only one cell: nothing to compare it with."
    elif not real:
        tail = "No pair of cells differs significantly after Holm adjustment."
    else:
        tail = "Significant after Holm: " + "; ".join(
            f"{CELL_NAMES[p['a']]} vs {CELL_NAMES[p['b']]}: {p['verdict']}" for p in real
        )
        tail += "."
    return f"{head} {tail}"


def _summaries(store: RunStore, rids: list[str]) -> list[tuple[str, dict]]:
    out = []
    for rid in rids:
        summary = store.summary(rid) if store.status(rid).get("state") == "done" else None
        if summary:
            out.append((rid, dict(summary)))
    return out


def _cell_block(store: RunStore, rids: list[str], done: list[tuple[str, dict]]) -> dict:
    metrics = [evaluation.with_verdicts(s.get("metrics") or {}, None) for _, s in done]
    stats = {k: mean_std([m.get(k) for m in metrics]) for k in REPORTED}
    stats["train_seconds"] = mean_std([s.get("train_seconds") for _, s in done])
    params = done[0][1].get("params") if done else None
    return {"runs": rids, "done": len(done), "params": params, "metrics": stats}


def _naive_block(forecasts: dict[str, pd.DataFrame]) -> dict[str, Any]:
    fc = next(iter(forecasts.values()))
    e_ret, e_price = -fc["actual_return"].to_numpy(float), errors_of(fc, "price")[1]
    actual = fc["actual_price"].to_numpy(float)
    return {
        "rmse": evaluation.finite(_rmse(e_price)),
        "mae": evaluation.finite(float(np.mean(np.abs(e_price)))),
        "mape": evaluation.finite(float(100 * np.mean(np.abs(e_price) / np.abs(actual)))),
        "return_rmse": evaluation.finite(_rmse(e_ret)),
        "direction_baseline": evaluation.direction_baseline(fc["actual_return"].to_numpy()),
        "n": len(fc),
    }


def fold_forecasts(
    store: RunStore, folds: list[dict[str, list[str]]]
) -> list[dict[str, pd.DataFrame]]:
    """Per fold, each cell's seed_forecast over its finished runs with predictions."""
    out = []
    for f in folds:
        fcs = {}
        for cell in [c for c in CELLS if c in f]:
            frames = [store.predictions(r) for r, _ in _summaries(store, f[cell])]
            frames = [fr for fr in frames if fr is not None]
            if frames:
                fcs[cell] = seed_forecast(frames)
        out.append(fcs)
    return out


def cell_forecasts(
    store: RunStore, runs: dict[str, list[str]] | list[dict[str, list[str]]]
) -> dict[str, pd.DataFrame]:
    """Each cell's seed-mean test forecast, the folds' test periods concatenated (pooled);
    only cells with a forecast in every fold."""
    per_fold = fold_forecasts(store, runs if isinstance(runs, list) else [runs])
    cells = [c for c in CELLS if per_fold and all(c in fcs for fcs in per_fold)]
    return {c: _pooled([fcs[c] for fcs in per_fold]) for c in cells}


def compare(
    store: RunStore,
    runs: dict[str, list[str]] | list[dict[str, list[str]]],
    errors: str = "return",
    alpha: float = evaluation.ALPHA,
) -> dict[str, Any]:
    """The comparison report of runs {cell: [run ids]} or, walk-forward, one such dict per
    fold (oldest first): the folds' seed-averaged test errors are concatenated (pooled) and
    every fold's skill is reported beside. Keys: errors, alpha, cells, naive, vs_naive,
    pairs [{a, b, stat, p_value, p_holm, verdict, n}], verdict, fold_skill (folds only)."""
    if errors not in ERRORS:
        raise UserError(f"errors must be one of {', '.join(ERRORS)}, got {errors!r}")
    folds = runs if isinstance(runs, list) else [runs]
    cells = [c for c in CELLS if any(c in f for f in folds)]
    blocks = {}
    for cell in cells:
        rids = [r for f in folds for r in f.get(cell, [])]
        blocks[cell] = _cell_block(store, rids, _summaries(store, rids))
    per_fold = fold_forecasts(store, folds)
    complete = [c for c in cells if all(c in fcs for fcs in per_fold)]
    report: dict[str, Any] = {"errors": errors, "alpha": alpha, "cells": blocks}
    if not complete:
        report.update(naive=None, vs_naive=[], pairs=[], verdict="No finished runs to compare.")
        return report
    forecasts = {c: _pooled([fcs[c] for fcs in per_fold]) for c in complete}
    first = next(r for f in folds for c in complete for r in f.get(c, []))
    task = store.spec(first).data.source == "task"
    report["naive"] = _naive_block(forecasts)
    report["vs_naive"] = _vs_naive(forecasts, errors, task)
    report["pairs"] = _pairs(forecasts, errors, alpha)
    report["verdict"] = verdict(report["vs_naive"], report["pairs"], alpha, task)
    if len(per_fold) > 1:
        report["fold_skill"] = {
            c: [_skill(*errors_of(fcs[c], errors), task) for fcs in per_fold] for c in complete
        }
    return report


def _pooled(parts: list[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    pooled = pd.concat(parts)
    if not pooled.index.is_unique:
        raise UserError("walk-forward folds overlap in their test dates: plan them again")
    return pooled.sort_index()
