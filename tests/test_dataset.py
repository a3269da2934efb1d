"""core.dataset: no leakage, alignment, windows as views, speed, price target, errors."""

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest

from core.config import DataSpec
from core.dataset import SPLITS, make_dataset, split_bounds
from core.errors import DataError

ALL_FEATURES = ("close", "ohlc", "log_volume")


def synthetic_prices(n: int = 400, seed: int = 0, adj: bool = False) -> pd.DataFrame:
    """A random-walk OHLCV frame shaped like core.data.load_prices output."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, n)))
    spread = np.abs(rng.normal(0, 0.005, n))
    frame = pd.DataFrame(
        {
            "open": close * np.exp(rng.normal(0, 0.004, n)),
            "high": close * np.exp(spread + 0.004),
            "low": close * np.exp(-spread - 0.004),
            "close": close,
            "volume": rng.uniform(1e6, 5e6, n),
        },
        index=pd.bdate_range("2001-01-02", periods=n, name="date"),
    )
    if adj:
        # A dividend-like step: adjusted prices before day n/2 are 2% lower.
        frame["adj_close"] = close * np.where(np.arange(n) < n // 2, 0.98, 1.0)
    return frame


def spec(**kw) -> DataSpec:
    return dataclasses.replace(DataSpec(lookback=20), **kw)


@pytest.mark.parametrize("target", ["return", "price"])
def test_perturbing_test_prices_changes_no_scaler_train_or_val_value(target):
    s = spec(features=ALL_FEATURES, target=target)
    prices = synthetic_prices()
    base = make_dataset(prices, s)
    first_test_day = base.test.dates[0]
    moved = prices.copy()
    test_rows = moved.index >= first_test_day
    moved.loc[test_rows, ["open", "high", "low", "close"]] *= 3.0
    moved.loc[test_rows, "volume"] *= 10.0
    other = make_dataset(moved, s)

    for name in ("x_mean", "x_std", "y_mean", "y_std"):
        assert np.array_equal(getattr(base, name), getattr(other, name)), name
    for name in ("train", "val"):
        a, b = getattr(base, name), getattr(other, name)
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y), name
        assert np.array_equal(a.actual_price, b.actual_price), name
    # The perturbation really reached the test split.
    assert not np.array_equal(base.test.y, other.test.y)


def test_each_target_is_the_value_after_its_window():
    prices = synthetic_prices()
    ds = make_dataset(prices, spec())
    price = prices["close"].to_numpy()
    log_ret = np.diff(np.log(price))  # log_ret[d-1] is the return into day d
    for s in (ds.train, ds.val, ds.test):
        for i in (0, len(s) // 2, len(s) - 1):
            target_day = prices.index.get_loc(s.dates[i])
            t = target_day - 1
            window = s.x[i, :, 0].astype(np.float64) * ds.x_std[0] + ds.x_mean[0]
            np.testing.assert_allclose(window, log_ret[t - 20 : t], rtol=1e-5, atol=1e-7)
            assert s.last_price[i] == price[t] and s.actual_price[i] == price[t + 1]
            expected = (log_ret[t] - ds.y_mean) / ds.y_std
            assert s.y[i] == np.float32(expected)


def test_true_scaled_returns_map_back_to_true_prices():
    ds = make_dataset(synthetic_prices(), spec())
    for s in (ds.train, ds.val, ds.test):
        exact = (s.actual_return - ds.y_mean) / ds.y_std  # float64 scaled truth
        np.testing.assert_allclose(ds.to_price(s, exact), s.actual_price, rtol=1e-9, atol=0)
        np.testing.assert_allclose(ds.to_return(s.name, exact), s.actual_return, atol=1e-12)
        # The float32 training target loses ~1e-7 of a return, no more.
        np.testing.assert_allclose(ds.to_price(s, s.y), s.actual_price, rtol=1e-6)


def test_splits_are_chronological_and_match_split_bounds():
    prices = synthetic_prices()
    s = spec(val_frac=0.2, test_frac=0.1)
    ds = make_dataset(prices, s)
    bounds = split_bounds(prices, s)
    assert ds.train.dates[-1] < ds.val.dates[0] and ds.val.dates[-1] < ds.test.dates[0]
    assert ds.test.dates[-1] == prices.index[-1]
    for name in SPLITS:
        split = getattr(ds, name)
        assert bounds[name] == (split.dates[0], split.dates[-1])
    n = len(ds.train) + len(ds.val) + len(ds.test)
    assert n == len(prices) - 1 - 20  # day 0 has no return, T input days, one target day
    assert len(ds.val) == round(0.2 * n) and len(ds.test) == round(0.1 * n)


def test_windows_are_float32_views_of_the_scaled_series():
    ds = make_dataset(synthetic_prices(), spec(features=ALL_FEATURES))
    for s in (ds.train, ds.val, ds.test):
        assert s.x.dtype == np.float32 and s.y.dtype == np.float32
        assert s.x.shape == (len(s), 20, 5)
        assert np.shares_memory(s.x, ds.series)
        assert s.x.base is not None and not s.x.flags.writeable
    assert ds.series.nbytes == ds.series.size * 4  # one (D, F) matrix, not N·T·F


def test_5000_days_lookback_60_is_cheap():
    prices = synthetic_prices(5000, seed=1)
    s = spec(lookback=60, features=ALL_FEATURES)
    best = np.inf
    for _ in range(5):
        start = time.process_time()
        ds = make_dataset(prices, s)
        best = min(best, time.process_time() - start)
    print(f"make_dataset 5000 days x T=60 x F=5: best of 5 = {best * 1e3:.2f} ms of CPU")
    assert len(ds.train) + len(ds.val) + len(ds.test) == 5000 - 1 - 60
    # Windows are views (test above), so the cost is the scaling, not N·T·F copies. CPU time
    # with a wide margin over the few ms idle; the 20 ms wall target lives in bench/.
    assert best <= 0.25


def test_train_scaler_statistics_are_train_rows_only():
    prices = synthetic_prices()
    ds = make_dataset(prices, spec())
    log_ret = np.diff(np.log(prices["close"].to_numpy()))
    last_train_input = prices.index.get_loc(ds.train.dates[-1]) - 1
    rows = log_ret[:last_train_input]  # returns of days 1 … last train input day
    assert ds.x_mean[0] == pytest.approx(rows.mean(), rel=1e-12)
    assert ds.x_std[0] == pytest.approx(rows.std(), rel=1e-12)
    assert ds.y_mean == pytest.approx(ds.train.actual_return.mean(), rel=1e-12)


def test_price_target_uses_levels_and_maps_back():
    prices = synthetic_prices()
    ds = make_dataset(prices, spec(target="price", features=("close", "ohlc")))
    assert ds.feature_names == ("price", "open", "high", "low")
    s = ds.test
    t = prices.index.get_loc(s.dates[0]) - 1
    first = s.x[0, -1].astype(np.float64) * ds.x_std + ds.x_mean
    row = prices.iloc[t]
    np.testing.assert_allclose(first, [row.close, row.open, row.high, row.low], rtol=1e-6)
    exact = (s.actual_price - ds.y_mean) / ds.y_std
    np.testing.assert_allclose(ds.to_price(s, exact), s.actual_price, rtol=1e-12)
    np.testing.assert_allclose(ds.to_return(s, exact), s.actual_return, atol=1e-12)
    # A price model never sees day 0 dropped: one more window than the return target.
    assert len(ds.train) + len(ds.val) + len(ds.test) == len(prices) - 20


def test_adj_close_is_the_price_and_adjusts_ohlc():
    prices = synthetic_prices(adj=True)
    ds = make_dataset(prices, spec(target="price", features=("close", "ohlc")))
    s = ds.train
    t = prices.index.get_loc(s.dates[0]) - 1
    assert s.last_price[0] == prices["adj_close"].iloc[t]
    factor = prices["adj_close"].iloc[t] / prices["close"].iloc[t]
    first_open = s.x[0, -1, 1] * ds.x_std[1] + ds.x_mean[1]
    assert first_open == pytest.approx(prices["open"].iloc[t] * factor, rel=1e-6)
    assert factor == pytest.approx(0.98)


def test_too_few_rows_says_how_many_are_needed():
    s = spec(lookback=500)
    with pytest.raises(DataError) as err:
        make_dataset(synthetic_prices(400), s)
    msg = str(err.value)
    assert msg.startswith("lookback 500 needs at least ") and "got 400" in msg
    needed = int(msg.split("at least ")[1].split()[0])
    make_dataset(synthetic_prices(needed), s)  # exactly enough works
    with pytest.raises(DataError):
        make_dataset(synthetic_prices(needed - 1), s)
    with pytest.raises(DataError, match="lookback 500 needs"):
        split_bounds(synthetic_prices(needed - 1), s)


@pytest.mark.parametrize(
    ("feature", "column"), [("ohlc", "high"), ("ohlc", "open"), ("log_volume", "volume")]
)
def test_missing_column_for_a_feature_is_a_data_error(feature, column):
    prices = synthetic_prices().drop(columns=[column])
    with pytest.raises(DataError, match=f"feature '{feature}' needs a '{column}' column"):
        make_dataset(prices, spec(features=("close", feature)))


def test_unusable_prices_are_data_errors():
    prices = synthetic_prices()
    prices.iloc[5, prices.columns.get_loc("close")] = np.nan
    with pytest.raises(DataError, match="missing values"):
        make_dataset(prices, spec())
    flat = synthetic_prices()
    flat["volume"] = 0.0
    with pytest.raises(DataError, match="log_volume is constant"):
        make_dataset(flat, spec(features=("close", "log_volume")))


def test_horizon_is_a_parameter(monkeypatch):
    # Settings allow horizon 1 only today; the windowing itself already takes any h.
    monkeypatch.setattr(DataSpec, "validate", lambda self: None)
    prices = synthetic_prices()
    ds = make_dataset(prices, spec(horizon=3))
    price = prices["close"].to_numpy()
    s = ds.val
    t = prices.index.get_loc(s.dates[0]) - 3
    assert s.last_price[0] == price[t] and s.actual_price[0] == price[t + 3]
    assert s.actual_return[0] == pytest.approx(np.log(price[t + 3] / price[t]))
