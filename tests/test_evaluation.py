"""core.evaluation: hand-computed metrics, naive skill 0, lag check, Diebold–Mariano."""

import math

import numpy as np
import pandas as pd
import pytest

from core.config import DataSpec
from core.dataset import Dataset, Split, make_dataset
from core.errors import UserError
from core.evaluation import (
    FRAME_COLUMNS,
    diebold_mariano,
    dm_verdict,
    evaluate,
    metrics_by_split,
)


def walk_dataset() -> Dataset:
    """400 business days of a seeded geometric random walk, lookback 20, return target."""
    rng = np.random.default_rng(0)
    close = 100.0 * np.exp(np.cumsum(rng.normal(3e-4, 0.01, 400)))
    index = pd.bdate_range("2001-01-02", periods=400, name="date")
    return make_dataset(pd.DataFrame({"close": close}, index=index), DataSpec(lookback=20))


def tiny_dataset(last, actual, target="price") -> Dataset:
    """Hand-made splits with an identity scaler, so a 'scaled' prediction is the value itself."""
    last, actual = np.asarray(last, float), np.asarray(actual, float)
    n = len(last)

    def split(name):
        return Split(
            name=name,
            x=np.zeros((n, 2, 1), np.float32),
            y=np.zeros(n, np.float32),
            dates=pd.bdate_range("2020-01-01", periods=n, name="date"),
            last_price=last,
            actual_price=actual,
            actual_return=np.log(actual / last),
        )

    return Dataset(
        train=split("train"),
        val=split("val"),
        test=split("test"),
        feature_names=("price",),
        target=target,
        lookback=2,
        horizon=1,
        x_mean=np.zeros(1),
        x_std=np.ones(1),
        y_mean=0.0,
        y_std=1.0,
        series=np.zeros((n + 1, 1), np.float32),
        series_dates=pd.bdate_range("2019-12-31", periods=n + 1, name="date"),
    )


LAST = [100.0, 100.0, 100.0, 100.0]
ACTUAL = [110.0, 90.0, 100.0, 105.0]
PREDICTED = np.array([105.0, 95.0, 100.0, 100.0])


def test_price_metrics_match_a_hand_computation():
    metrics, _ = evaluate(tiny_dataset(LAST, ACTUAL), {"test": PREDICTED})
    # errors -5, 5, 0, -5 ; naive errors -10, 10, 0, -5
    assert metrics["rmse"] == pytest.approx(math.sqrt(75 / 4))
    assert metrics["mae"] == pytest.approx(15 / 4)
    assert metrics["mape"] == pytest.approx(100 * (5 / 110 + 5 / 90 + 0 + 5 / 105) / 4)
    assert metrics["naive_rmse"] == pytest.approx(7.5)
    assert metrics["naive_mae"] == pytest.approx(25 / 4)
    assert metrics["naive_mape"] == pytest.approx(100 * (10 / 110 + 10 / 90 + 0 + 5 / 105) / 4)
    assert metrics["skill"] == pytest.approx(1 - math.sqrt(75 / 4) / 7.5)
    assert metrics["n"] == 4


def test_return_metrics_match_a_hand_computation():
    metrics, _ = evaluate(tiny_dataset(LAST, ACTUAL), {"test": PREDICTED})
    actual_r = np.log([1.1, 0.9, 1.0, 1.05])
    pred_r = np.log([1.05, 0.95, 1.0, 1.0])
    assert metrics["return_rmse"] == pytest.approx(np.sqrt(np.mean((pred_r - actual_r) ** 2)))
    assert metrics["naive_return_rmse"] == pytest.approx(np.sqrt(np.mean(actual_r**2)))
    assert metrics["return_skill"] == pytest.approx(
        1 - metrics["return_rmse"] / metrics["naive_return_rmse"]
    )
    # Day 3 did not move: excluded. Day 4 predicted no move: a miss. Hits on days 1, 2.
    assert metrics["directional_accuracy"] == pytest.approx(2 / 3)


def test_return_target_maps_predicted_returns_through_last_price():
    ds = tiny_dataset(LAST, ACTUAL, target="return")
    pred_r = np.log(PREDICTED / 100.0)
    metrics, frame = evaluate(ds, {"test": pred_r})
    np.testing.assert_allclose(frame["predicted_price"], PREDICTED, rtol=1e-12)
    assert metrics["rmse"] == pytest.approx(math.sqrt(75 / 4))


def test_naive_model_has_skill_zero_and_shows_the_lag():
    ds = walk_dataset()
    naive = {
        name: (0.0 - ds.y_mean) / ds.y_std * np.ones(len(ds.split(name)))
        for name in ("train", "val", "test")
    }  # scaled zero return = tomorrow is today
    metrics, frame = evaluate(ds, naive)
    assert metrics["skill"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["return_skill"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(frame["predicted_price"], frame["naive_price"], rtol=1e-12)
    lag = metrics["lag_check"]
    assert lag["corr_yesterday"] == pytest.approx(1.0) and lag["gap"] > 0


def test_a_perfect_model_shows_no_lag_and_full_skill():
    ds = walk_dataset()
    exact = (ds.test.actual_return - ds.y_mean) / ds.y_std
    metrics, _ = evaluate(ds, {"test": exact})
    assert metrics["skill"] == pytest.approx(1.0) and metrics["return_skill"] == pytest.approx(1.0)
    assert metrics["directional_accuracy"] == 1.0
    lag = metrics["lag_check"]
    assert lag["corr_today"] == pytest.approx(1.0) and lag["gap"] < 0


def test_predictions_frame_holds_every_split_in_order():
    ds = walk_dataset()
    preds = {name: np.zeros(len(ds.split(name))) for name in ("train", "val", "test")}
    _, frame = evaluate(ds, preds)
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert len(frame) == len(ds.train) + len(ds.val) + len(ds.test)
    assert frame["date"].is_monotonic_increasing
    assert list(frame["split"].unique()) == ["train", "val", "test"]
    test_rows = frame[frame["split"] == "test"]
    np.testing.assert_array_equal(test_rows["actual_price"], ds.test.actual_price)
    np.testing.assert_array_equal(test_rows["date"], ds.test.dates)
    assert set(metrics_by_split(ds, preds)) == {"train", "val", "test"}


def test_undefined_values_are_none_not_nan():
    flat = [100.0] * 4
    metrics, _ = evaluate(tiny_dataset(flat, flat), {"test": np.array(flat)})
    assert metrics["skill"] is None and metrics["directional_accuracy"] is None
    assert metrics["lag_check"] == {"corr_today": None, "corr_yesterday": None, "gap": None}


def test_evaluate_needs_test_predictions_of_the_right_length():
    ds = tiny_dataset(LAST, ACTUAL)
    with pytest.raises(ValueError, match="'test'"):
        evaluate(ds, {"val": PREDICTED})
    with pytest.raises(ValueError, match="4 windows, got 3"):
        evaluate(ds, {"test": PREDICTED[:3]})


def test_dm_matches_a_hand_computation():
    e1, e2 = np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4)
    # d = 0, 3, 8, 15 ; mean 6.5 ; gamma0 = 129/4 ; gamma1 = 30.25/4
    r = diebold_mariano(e1, e2)
    assert r["n"] == 4
    assert r["stat"] == pytest.approx(6.5 / math.sqrt(32.25 / 4) * math.sqrt(3 / 4))
    assert r["stat"] == pytest.approx(1.98248141, rel=1e-8)
    assert r["p_value"] == pytest.approx(0.14171516, rel=1e-6)
    r2 = diebold_mariano(e1, e2, h=2)
    assert r2["stat"] == pytest.approx(
        6.5 / math.sqrt((32.25 + 2 * 7.5625) / 4) * math.sqrt(1.5 / 4)
    )
    assert r2["p_value"] == pytest.approx(0.33117174, rel=1e-6)
    # power 1: d = |e1| - |e2| = 0, 1, 2, 3
    r1 = diebold_mariano(e1, e2, power=1)
    assert r1["stat"] == pytest.approx(1.5 / math.sqrt(1.25 / 4) * math.sqrt(3 / 4))


def test_dm_finds_a_clearly_better_forecast():
    rng = np.random.default_rng(0)
    small, large = rng.normal(0, 1, 200), rng.normal(0, 2, 200)
    r = diebold_mariano(small, large)
    assert r["stat"] < 0 and r["p_value"] < 1e-6
    assert dm_verdict("GRU", small, "LSTM", large) == "GRU better at the 5% level (p < 0.001)"
    assert dm_verdict("LSTM", large, "GRU", small).startswith("GRU better at the 5% level")


def test_dm_calls_noise_noise():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=250), rng.normal(size=250)
    assert diebold_mariano(a, b)["p_value"] > 0.5
    assert dm_verdict("LSTM", a, "GRU", b) == "no significant difference (p = 0.928)"


def test_dm_identical_series_give_no_nan():
    e = np.random.default_rng(1).normal(size=50)
    r = diebold_mariano(e, e.copy())
    assert r == {"stat": 0.0, "p_value": 1.0, "n": 50}
    assert dm_verdict("LSTM", e, "GRU", e) == "no significant difference (p = 1)"
    assert diebold_mariano(np.zeros(10), np.zeros(10))["p_value"] == 1.0


def test_dm_verdict_formats_level_and_p():
    e1, e2 = np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4)
    assert dm_verdict("A", e1, "B", e2, alpha=0.2) == "B better at the 20% level (p = 0.142)"


def test_dm_rejects_forecasts_of_different_days():
    with pytest.raises(UserError, match="different numbers of days"):
        diebold_mariano(np.ones(10), np.ones(11))
    with pytest.raises(UserError, match="missing or infinite"):
        diebold_mariano(np.array([1.0, np.nan, 2.0]), np.ones(3))
