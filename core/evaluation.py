"""Scaled predictions → prices and returns, metrics beside naive baselines, Diebold–Mariano.

Every model number comes with the naive forecast on the same dates (price: tomorrow =
today; return: zero) and a skill score 1 − RMSE_model/RMSE_naive, so "beats the naive
baseline" is a number, not an impression. Undefined values (a correlation of a constant,
a skill against a perfect naive forecast) are None, never NaN, so they survive JSON.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from core.dataset import SPLITS, Dataset
from core.errors import UserError
from core.finite import finite, json_safe  # noqa: F401  (json_safe: re-exported)

FRAME_COLUMNS = (
    "date",
    "split",
    "actual_price",
    "predicted_price",
    "naive_price",
    "actual_return",
    "predicted_return",
)


ALPHA = 0.05  # significance level of every verdict the app prints
NAIVE = "tomorrow = today"


def _rmse(err: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(err))))


def _mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error, in percent (prices are positive, so no zero division)."""
    return float(100.0 * np.mean(np.abs(predicted - actual) / np.abs(actual)))


def _skill(model_rmse: float, naive_rmse: float) -> float | None:
    if naive_rmse == 0:
        return None
    return finite(1.0 - model_rmse / naive_rmse)


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return finite(np.corrcoef(a, b)[0, 1])


def directional_accuracy(actual_return: np.ndarray, predicted_return: np.ndarray) -> float | None:
    """Share of days whose predicted return has the sign of the actual one.

    Days with an actual return of exactly zero are excluded: there was no direction to call.
    A predicted return of exactly zero calls no direction, so it counts as a miss.
    """
    moved = actual_return != 0
    if not moved.any():
        return None
    hits = np.sign(predicted_return[moved]) == np.sign(actual_return[moved])
    return float(hits.mean())


def direction_baseline(actual_return: np.ndarray) -> float | None:
    """The fair reference for directional accuracy: the majority-class share.

    Over the days with a non-zero actual return (the ones directional_accuracy scores),
    max(share up, share down): "always up" scores this without any model. None without
    such days.
    """
    moved = np.asarray(actual_return, dtype=np.float64)
    moved = moved[moved != 0]
    if len(moved) == 0:
        return None
    up = float(np.mean(moved > 0))
    return max(up, 1.0 - up)


def direction_test(
    actual_return: np.ndarray, predicted_return: np.ndarray
) -> dict[str, float | None]:
    """Two-sided binomial test of the hits against direction_baseline (None when undefined)."""
    acc = directional_accuracy(actual_return, predicted_return)
    base = direction_baseline(actual_return)
    if acc is None or base is None or base >= 1.0:
        return {"p_value": None}
    n = int(np.count_nonzero(actual_return))
    hits = int(round(acc * n))
    return {"p_value": float(stats.binomtest(hits, n, base).pvalue)}


def dm_vs_naive(
    actual_price: np.ndarray, predicted_price: np.ndarray, naive_price: np.ndarray
) -> dict[str, float | None] | None:
    """HLN Diebold–Mariano (h = 1) of the model's squared price errors against the naive
    forecast's on the same days: {stat, p_value}; stat < 0 means the model's loss is smaller.
    None when the days are too few or an error is not finite (nothing to test)."""
    e_model = np.asarray(predicted_price, float) - np.asarray(actual_price, float)
    e_naive = np.asarray(naive_price, float) - np.asarray(actual_price, float)
    if len(e_model) < 3 or not (np.isfinite(e_model).all() and np.isfinite(e_naive).all()):
        return None
    result = diebold_mariano(e_model, e_naive)
    return {"stat": finite(result["stat"]), "p_value": finite(result["p_value"])}


def naive_tests(
    actual_price: np.ndarray,
    predicted_price: np.ndarray,
    naive_price: np.ndarray,
    actual_return: np.ndarray,
    predicted_return: np.ndarray,
) -> dict:
    """The fields that turn a metric into a verdict: direction baseline (+ its binomial p),
    DM against the naive forecast, and the sentence that follows from them."""
    dm = dm_vs_naive(actual_price, predicted_price, naive_price)
    rmse, naive_rmse = _rmse(predicted_price - actual_price), _rmse(naive_price - actual_price)
    return {
        "direction_baseline": direction_baseline(actual_return),
        "direction_p_value": direction_test(actual_return, predicted_return)["p_value"],
        "dm_vs_naive": dm,
        "verdict_vs_naive": verdict_vs_naive(_skill(rmse, naive_rmse), dm),
    }


def with_verdicts(metrics: dict, frame: pd.DataFrame | None) -> dict:
    """metrics with the naive_tests fields; a run stored before they existed gets them from
    its predictions frame (test rows), or keeps None where there is no frame."""
    if "verdict_vs_naive" in metrics and "direction_baseline" in metrics:
        return metrics
    out = dict(metrics)
    if frame is None or not set(FRAME_COLUMNS) <= set(frame.columns):
        out.setdefault("direction_baseline", None)
        out.setdefault("direction_p_value", None)
        out.setdefault("dm_vs_naive", None)
        out.setdefault("verdict_vs_naive", None)
        return out
    t = frame[frame["split"] == "test"]
    col = {c: t[c].to_numpy(dtype=np.float64) for c in FRAME_COLUMNS[2:]}
    out.update(
        naive_tests(
            col["actual_price"],
            col["predicted_price"],
            col["naive_price"],
            col["actual_return"],
            col["predicted_return"],
        )
    )
    return out


def lag_check(
    predicted_price: np.ndarray, actual_price: np.ndarray, last_price: np.ndarray
) -> dict:
    """corr(P̂, P_{t+1}) vs corr(P̂, P_t): a model that echoes yesterday shows gap > 0."""
    today = _corr(predicted_price, actual_price)
    yesterday = _corr(predicted_price, last_price)
    gap = None if today is None or yesterday is None else yesterday - today
    return {"corr_today": today, "corr_yesterday": yesterday, "gap": gap}


def price_metrics(actual: np.ndarray, predicted: np.ndarray, naive: np.ndarray) -> dict:
    """RMSE, MAE, MAPE (%) of a price forecast and of the naive one, and the skill score."""
    rmse, naive_rmse = _rmse(predicted - actual), _rmse(naive - actual)
    return {
        "rmse": finite(rmse),
        "mae": finite(np.mean(np.abs(predicted - actual))),
        "mape": finite(_mape(actual, predicted)),
        "naive_rmse": finite(naive_rmse),
        "naive_mae": finite(np.mean(np.abs(naive - actual))),
        "naive_mape": finite(_mape(actual, naive)),
        "skill": _skill(rmse, naive_rmse),
    }


def split_metrics(ds: Dataset, split: str, y_scaled: np.ndarray) -> dict:
    """All metrics of one split's scaled predictions (evaluate reports the test split)."""
    s = ds.split(split)
    predicted_price = ds.to_price(s, y_scaled)
    predicted_return = ds.to_return(s, y_scaled)
    out = price_metrics(s.actual_price, predicted_price, s.last_price)
    return_rmse = _rmse(predicted_return - s.actual_return)
    naive_return_rmse = _rmse(s.actual_return)  # the naive return forecast is zero
    out.update(
        return_rmse=finite(return_rmse),
        naive_return_rmse=finite(naive_return_rmse),
        return_skill=_skill(return_rmse, naive_return_rmse),
        directional_accuracy=directional_accuracy(s.actual_return, predicted_return),
        lag_check=lag_check(predicted_price, s.actual_price, s.last_price),
        n=len(s),
    )
    out.update(
        naive_tests(
            s.actual_price, predicted_price, s.last_price, s.actual_return, predicted_return
        )
    )
    return out


def metrics_by_split(ds: Dataset, preds: dict[str, np.ndarray]) -> dict[str, dict]:
    """split_metrics for every split present in preds, in train, val, test order."""
    return {name: split_metrics(ds, name, preds[name]) for name in SPLITS if name in preds}


def predictions_frame(ds: Dataset, preds: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per predicted day, splits in chronological order; columns FRAME_COLUMNS."""
    parts = []
    for name in SPLITS:
        if name not in preds:
            continue
        s = ds.split(name)
        part = {
            "date": s.dates,
            "split": name,
            "actual_price": s.actual_price,
            "predicted_price": ds.to_price(s, preds[name]),
            "naive_price": s.last_price,
            "actual_return": s.actual_return,
            "predicted_return": ds.to_return(s, preds[name]),
        }
        parts.append(pd.DataFrame(part, columns=list(FRAME_COLUMNS)))
    return pd.concat(parts, ignore_index=True)


def evaluate(ds: Dataset, preds: dict[str, np.ndarray]) -> tuple[dict, pd.DataFrame]:
    """Test metrics (see split_metrics) and the predictions frame of every split in preds."""
    unknown = set(preds) - set(SPLITS)
    if unknown or "test" not in preds:
        raise ValueError(f"preds needs a 'test' entry and only keys {SPLITS}, got {sorted(preds)}")
    return split_metrics(ds, "test", preds["test"]), predictions_frame(ds, preds)


# --------------------------------------------------------------------------- Diebold–Mariano


def _loss_differential(e1: np.ndarray, e2: np.ndarray, power: int) -> np.ndarray:
    e1 = np.asarray(e1, dtype=np.float64).reshape(-1)
    e2 = np.asarray(e2, dtype=np.float64).reshape(-1)
    if len(e1) != len(e2):
        raise UserError(
            f"the two forecasts cover different numbers of days ({len(e1)} vs {len(e2)}): "
            "compare runs trained on the same data, dates and split"
        )
    if not (np.isfinite(e1).all() and np.isfinite(e2).all()):
        raise UserError("a forecast error is missing or infinite: compare only finished runs")
    return np.abs(e1) ** power - np.abs(e2) ** power


def diebold_mariano(e1: np.ndarray, e2: np.ndarray, h: int = 1, power: int = 2) -> dict:
    """Test equal accuracy of two forecasts from their errors on the same days.

    d_t = |e1_t|^p − |e2_t|^p; DM = mean(d) / sqrt(V/n) with V the autocovariance sum up to
    lag h−1; Harvey, Leybourne & Newbold (1997) scale it by sqrt((n+1−2h+h(h−1)/n)/n) and
    read the p-value (two-sided) from Student t with n−1 degrees of freedom.
    stat < 0: forecast 1 has the smaller loss. Identical losses give stat 0, p 1.
    """
    d = _loss_differential(e1, e2, power)
    n = len(d)
    if n < max(3, h + 1):
        raise UserError(f"a Diebold-Mariano test needs at least {max(3, h + 1)} days, got {n}")
    dbar = float(d.mean())
    dev = d - dbar
    gammas = [float(dev[k:] @ dev[: n - k]) / n for k in range(h)]
    var = gammas[0] + 2.0 * sum(gammas[1:])
    if var <= 0:
        var = gammas[0]  # the unweighted long-run sum can go negative for h > 1
    if var <= 0 or dbar == 0:
        # Zero spread of d: identical losses mean no difference; a constant non-zero
        # difference is an exact, infinitely significant one.
        stat = 0.0 if dbar == 0 else math.copysign(math.inf, dbar)
        return {"stat": stat, "p_value": 1.0 if dbar == 0 else 0.0, "n": n}
    hln = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    stat = dbar / math.sqrt(var / n) * hln
    p_value = float(2.0 * stats.t.sf(abs(stat), df=n - 1))
    return {"stat": float(stat), "p_value": p_value, "n": n}


def format_p(p: float | None, alpha: float = ALPHA, name: str = "p") -> str:
    """'p = 0.0496', 'p = 0.0504', 'p = 0.81', 'p < 0.001': three significant digits, and
    more where rounding would put the printed value on the other side of alpha."""
    if p is None or not math.isfinite(p):
        return f"{name} = —"
    if p < 0.001:
        return f"{name} < 0.001"
    for digits in range(3, 10):
        text = f"{p:.{digits}g}"
        if (float(text) < alpha) == (p < alpha):
            return f"{name} = {text}"
    return f"{name} = {p!r}"


def verdict_vs_naive(
    skill: float | None, dm: dict | None, alpha: float = ALPHA, baseline: str = NAIVE
) -> str:
    """One sentence against the baseline (tomorrow = today on prices): 'beats' only for a
    significant positive skill."""
    p = (dm or {}).get("p_value")
    if p is None or skill is None:
        return f"not tested against {baseline} (too few days or undefined errors)"
    if p < alpha and skill > 0:
        return f"beats {baseline} ({format_p(p)})"
    if p < alpha and skill < 0:
        return f"worse than {baseline} ({format_p(p)})"
    return f"not distinguishable from {baseline} ({format_p(p)})"


def outcome(skill: float | None, p_value: float | None, alpha: float = ALPHA) -> str:
    """'win', 'loss', 'noise' or 'none': what a badge may claim. Green only for 'win'."""
    if skill is None or p_value is None:
        return "none"
    if p_value < alpha and skill > 0:
        return "win"
    if p_value < alpha and skill < 0:
        return "loss"
    return "noise"


def badge(skill: float | None, p_value: float | None, alpha: float = ALPHA) -> tuple[str, str]:
    """(words, colour) of a skill badge: significant win green, significant loss red, an
    insignificant or exactly zero difference gray (no green for noise). The words are short:
    st.metric cuts its delta at the column's edge with an ellipsis; the whole sentence is
    verdict_vs_naive, shown beside the card."""
    kind = outcome(skill, p_value, alpha)
    if kind == "win":
        return "beats naive", "green"
    if kind == "loss":
        return "worse than naive", "red"
    if skill == 0:
        return "equal to naive", "gray"
    if kind == "none":
        return "not tested", "gray"
    return "not significant", "gray"


def dm_verdict(name1: str, e1: np.ndarray, name2: str, e2: np.ndarray, alpha: float = 0.05) -> str:
    """Plain words: 'GRU better at the 5% level (p = 0.012)' or 'no significant difference'."""
    result = diebold_mariano(e1, e2)
    p = result["p_value"]
    if p >= alpha:
        return f"no significant difference ({format_p(p, alpha)})"
    better = name1 if result["stat"] < 0 else name2
    return f"{better} better at the {100 * alpha:g}% level ({format_p(p, alpha)})"
