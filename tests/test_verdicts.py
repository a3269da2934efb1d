"""Honest verdicts: direction baseline, DM against the naive forecast, p formatting, badges,
strict JSON, and runs stored before these fields existed (issue 13)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core import evaluation as ev

ACTUAL_RETURN = np.array([0.01, -0.02, 0.0, 0.03, 0.01, -0.01, 0.02, 0.0])


def test_direction_baseline_is_the_majority_share_of_days_that_moved():
    # Moved days: 6 (two zeros left out); up 4, down 2 → always-up scores 4/6.
    assert ev.direction_baseline(ACTUAL_RETURN) == pytest.approx(4 / 6)
    assert ev.direction_baseline(-ACTUAL_RETURN) == pytest.approx(4 / 6)  # always-down
    assert ev.direction_baseline(np.zeros(5)) is None
    # A model that always says "up" scores exactly the baseline.
    up = np.full(len(ACTUAL_RETURN), 0.001)
    assert ev.directional_accuracy(ACTUAL_RETURN, up) == ev.direction_baseline(ACTUAL_RETURN)
    assert ev.direction_test(ACTUAL_RETURN, up)["p_value"] == pytest.approx(1.0)


def _hln(d: np.ndarray) -> tuple[float, float]:
    """Hand computation, h = 1: DM = mean(d)/sqrt(var(d, ddof 0)/n), HLN factor sqrt((n-1)/n)."""
    n = len(d)
    dm = d.mean() / math.sqrt(((d - d.mean()) ** 2).mean() / n) * math.sqrt((n - 1) / n)
    return dm, 2 * stats.t.sf(abs(dm), n - 1)


def test_dm_vs_naive_matches_a_hand_computation():
    actual = np.array([100.0, 101.0, 99.0, 102.0, 103.0, 101.0, 104.0])
    naive = np.array([99.0, 100.0, 101.0, 99.0, 102.0, 103.0, 101.0])
    predicted = np.array([99.5, 100.8, 100.0, 100.0, 102.5, 102.0, 102.0])
    d = (predicted - actual) ** 2 - (naive - actual) ** 2
    stat, p = _hln(d)
    got = ev.dm_vs_naive(actual, predicted, naive)
    assert got["stat"] == pytest.approx(stat, rel=1e-12)
    assert got["p_value"] == pytest.approx(p, rel=1e-12)
    assert got["stat"] < 0  # the model's squared errors are smaller here
    assert ev.dm_vs_naive(actual[:2], predicted[:2], naive[:2]) is None  # too few days


def test_p_values_either_side_of_alpha_read_differently():
    assert ev.format_p(0.0496) == "p = 0.0496"
    assert ev.format_p(0.0504) == "p = 0.0504"
    assert ev.format_p(0.04996) == "p = 0.04996"  # 3 digits would print 0.05, over alpha
    assert ev.format_p(0.81) == "p = 0.81"
    assert ev.format_p(0.0004) == "p < 0.001"
    assert ev.format_p(None) == "p = —"
    assert ev.verdict_vs_naive(0.01, {"p_value": 0.0496}).startswith("beats")
    assert ev.verdict_vs_naive(0.01, {"p_value": 0.0504}).startswith("not distinguishable")


@pytest.mark.parametrize(
    ("skill", "p", "words", "colour", "sentence"),
    [
        (0.02, 0.012, "beats naive", "green", "beats tomorrow = today (p = 0.012)"),
        (0.0018, 0.58, "not significant", "gray", "not distinguishable"),
        (-0.03, 0.004, "worse than naive", "red", "worse than tomorrow = today (p = 0.004)"),
        (0.0, 1.0, "equal to naive", "gray", "not distinguishable from tomorrow = today (p = 1)"),
    ],
    ids=["significant win", "insignificant positive", "loss", "exact zero"],
)
def test_badges_follow_the_verdict(skill, p, words, colour, sentence):
    assert ev.badge(skill, p) == (words, colour)
    assert ev.verdict_vs_naive(skill, {"stat": 0.0, "p_value": p}).startswith(sentence)


def test_an_infinite_naive_metric_keeps_json_strict():
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    naive = np.array([1.0, np.inf, 3.0, 4.0])
    m = ev.price_metrics(actual, actual + 0.1, naive)
    assert m["naive_rmse"] is None and m["naive_mae"] is None
    json.dumps(m, allow_nan=False)
    blob = {"a": [float("nan"), np.float64("inf"), 1.5], "b": {"c": -math.inf}}
    assert json.loads(json.dumps(ev.json_safe(blob), allow_nan=False)) == {
        "a": [None, None, 1.5],
        "b": {"c": None},
    }


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    price = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n + 1)))
    predicted = price[:-1] * np.exp(rng.normal(0, 0.01, n))
    return pd.DataFrame(
        {
            "date": pd.bdate_range("2020-01-01", periods=n),
            "split": "test",
            "actual_price": price[1:],
            "predicted_price": predicted,
            "naive_price": price[:-1],
            "actual_return": np.log(price[1:] / price[:-1]),
            "predicted_return": np.log(predicted / price[:-1]),
        }
    )


def test_an_old_run_gets_its_verdict_from_its_predictions():
    frame = _frame()
    t = {c: frame[c].to_numpy() for c in frame.columns[2:]}
    fresh = ev.naive_tests(
        t["actual_price"], t["predicted_price"], t["naive_price"],
        t["actual_return"], t["predicted_return"],
    )  # fmt: skip
    old = {"skill": 0.1}  # a summary written before issue 13
    filled = ev.with_verdicts(old, frame)
    assert filled["dm_vs_naive"] == fresh["dm_vs_naive"]
    assert filled["direction_baseline"] == fresh["direction_baseline"]
    assert filled["verdict_vs_naive"] == fresh["verdict_vs_naive"]
    assert "verdict_vs_naive" not in old
    unknown = ev.with_verdicts(old, None)  # no predictions: shown as "—"
    assert unknown["dm_vs_naive"] is None and unknown["verdict_vs_naive"] is None
