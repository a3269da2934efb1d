"""Prices → scaled feature rows → windows, split chronologically with train-only scaling.

Day indices: P_d is the (adjusted) price on row d of the frame. A window whose last input
day is t holds the scaled feature rows t-T+1 … t and predicts the value on day t+h
(h = spec.horizon, 1 today). Windows are strided views of one scaled (D, F) float32 matrix,
never copies, so a 5,000-day series with T=60 costs one matrix, not 5,000 windows.

Nothing the test period contains can reach the scaler or any train/val window: the scaler
statistics come from the feature rows that train windows read and the train targets only,
and every scaled row depends on its own day (and, for returns, the day before) alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from core.config import DataSpec
from core.errors import DataError

SPLITS = ("train", "val", "test")
MIN_WINDOWS = {"train": 50, "val": 10, "test": 10}

# Column each feature needs; the price itself falls back from adj_close to close.
_NEEDS = {"close": ("close",), "ohlc": ("open", "high", "low", "close"), "log_volume": ("volume",)}


@dataclass(frozen=True, eq=False)
class Split:
    name: str
    x: np.ndarray  # (N, T, F) float32, a read-only view into Dataset.series
    y: np.ndarray  # (N,) float32 scaled target
    dates: pd.DatetimeIndex  # (N,) target day t+h
    last_price: np.ndarray  # (N,) float64 price on day t (the naive forecast)
    actual_price: np.ndarray  # (N,) float64 price on day t+h
    actual_return: np.ndarray  # (N,) float64 log(actual_price / last_price)

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True, eq=False)
class Dataset:
    train: Split
    val: Split
    test: Split
    feature_names: tuple[str, ...]
    target: str  # "return" | "price"
    lookback: int
    horizon: int
    x_mean: np.ndarray  # (F,) train feature rows only
    x_std: np.ndarray  # (F,)
    y_mean: float  # train targets only
    y_std: float
    series: np.ndarray  # (D, F) float32 scaled feature rows; every window is a view of it
    series_dates: pd.DatetimeIndex  # (D,)

    def split(self, name: str | Split) -> Split:
        if isinstance(name, Split):
            return name
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)

    def unscale(self, y_scaled: np.ndarray) -> np.ndarray:
        """Scaled target → target units (log return or price), in float64."""
        return np.asarray(y_scaled, dtype=np.float64).reshape(-1) * self.y_std + self.y_mean

    def to_price(self, split: str | Split, y_scaled: np.ndarray) -> np.ndarray:
        """Predicted price P̂_{t+h}: P_t·exp(r̂) for a return target, the level for a price one."""
        s = self.split(split)
        value = self._checked(s, y_scaled)
        if self.target == "price":
            return value
        return s.last_price * np.exp(value)

    def to_return(self, split: str | Split, y_scaled: np.ndarray) -> np.ndarray:
        """Predicted log return log(P̂_{t+h}/P_t); a non-positive predicted price gives NaN."""
        s = self.split(split)
        value = self._checked(s, y_scaled)
        if self.target == "return":
            return value
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(value > 0, value / s.last_price, np.nan)
            return np.log(ratio)

    def _checked(self, s: Split, y_scaled: np.ndarray) -> np.ndarray:
        value = self.unscale(y_scaled)
        if len(value) != len(s):
            raise ValueError(f"{s.name} has {len(s)} windows, got {len(value)} predictions")
        return value


# --------------------------------------------------------------------------- layout


def _first_feature_day(target: str) -> int:
    # A return needs the day before, so return features start on row 1; levels on row 0.
    return 1 if target == "return" else 0


def _split_counts(n_windows: int, val_frac: float, test_frac: float) -> dict[str, int]:
    n_val = int(round(n_windows * val_frac))
    n_test = int(round(n_windows * test_frac))
    return {"train": n_windows - n_val - n_test, "val": n_val, "test": n_test}


def _enough(counts: dict[str, int]) -> bool:
    return all(counts[k] >= MIN_WINDOWS[k] for k in SPLITS)


def _layout(n_rows: int, spec: DataSpec) -> tuple[int, dict[str, int]]:
    """(first_window_last_day, windows per split) or DataError when the rows are too few."""
    t0 = _first_feature_day(spec.target) + spec.lookback - 1  # last input day of window 0
    n_windows = n_rows - spec.horizon - t0
    counts = _split_counts(max(n_windows, 0), spec.val_frac, spec.test_frac)
    if n_windows <= 0 or not _enough(counts):
        need = sum(MIN_WINDOWS.values())
        while not _enough(_split_counts(need, spec.val_frac, spec.test_frac)):
            need += 1
        raise DataError(
            f"lookback {spec.lookback} needs at least {need + t0 + spec.horizon} price rows, "
            f"got {n_rows}: shorten the lookback or widen the date range"
        )
    return t0, counts


def _bounds(counts: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Window index range [start, stop) of each split, in chronological order."""
    out, start = {}, 0
    for name in SPLITS:
        out[name] = (start, start + counts[name])
        start += counts[name]
    return out


def split_bounds(prices: pd.DataFrame, spec: DataSpec) -> dict[str, tuple[pd.Timestamp, ...]]:
    """First and last target date of each split, as make_dataset would cut them (no windows)."""
    spec.validate()
    _check_index(prices)
    t0, counts = _layout(len(prices), spec)
    first_target = t0 + spec.horizon
    out = {}
    for name, (lo, hi) in _bounds(counts).items():
        out[name] = (prices.index[first_target + lo], prices.index[first_target + hi - 1])
    return out


# --------------------------------------------------------------------------- features


def _check_index(prices: pd.DataFrame) -> None:
    idx = prices.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise DataError("prices need a date index: load them with core.data.load_prices")
    if not (idx.is_monotonic_increasing and idx.is_unique):
        raise DataError("price dates must be sorted and unique: remove duplicate days")


def _column(prices: pd.DataFrame, name: str, feature: str) -> np.ndarray:
    if name not in prices.columns:
        raise DataError(
            f"feature {feature!r} needs a {name!r} column, which these prices lack: "
            f"remove {feature!r} from the features or use data that has it"
        )
    values = prices[name].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise DataError(f"column {name!r} has missing values: clean the data or pick other dates")
    return values


def _positive(values: np.ndarray, name: str) -> np.ndarray:
    if (values <= 0).any():
        raise DataError(f"column {name!r} has zero or negative prices: clean the data")
    return values


def _price(prices: pd.DataFrame) -> np.ndarray:
    """The modelled price: adj_close if present, else close (core.data.price_series's rule,
    kept local so building windows never imports the loaders)."""
    name = "adj_close" if "adj_close" in prices.columns else "close"
    return _positive(_column(prices, name, "close"), name)


def _features(
    prices: pd.DataFrame, spec: DataSpec, price: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...]]:
    """(D_all, F) float64 feature rows for every day of the frame, plus their names."""
    is_return = spec.target == "return"
    cols, names = [], []
    if is_return:
        cols.append(np.concatenate([[np.nan], np.diff(np.log(price))]))
    else:
        cols.append(price)
    names.append("log_return" if is_return else "price")
    if "ohlc" in spec.features:
        # Put open/high/low on the adjusted scale of the price (a no-op without adj_close).
        factor = price / _positive(_column(prices, "close", "ohlc"), "close")
        for name in ("open", "high", "low"):
            level = _positive(_column(prices, name, "ohlc"), name) * factor
            # The intraday range relative to the close carries no price scale, so it is
            # comparable across decades; the level is what a price target wants.
            cols.append(np.log(level / price) if is_return else level)
            names.append(f"log_{name}_close" if is_return else name)
    if "log_volume" in spec.features:
        volume = _column(prices, "volume", "log_volume")
        if (volume < 0).any():
            raise DataError("column 'volume' has negative values: clean the data")
        cols.append(np.log1p(volume))
        names.append("log_volume")
    return np.column_stack(cols), tuple(names)


def _target(price: np.ndarray, target: str, horizon: int) -> np.ndarray:
    """(D_all,) value on each day d as a target: log(P_d/P_{d-h}) or P_d; NaN where undefined."""
    if target == "price":
        return price.copy()
    out = np.full(len(price), np.nan)
    out[horizon:] = np.log(price[horizon:] / price[:-horizon])
    return out


def _std(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    std = np.atleast_1d(values.std(axis=0))
    bad = [n for n, s in zip(names, std, strict=True) if not (np.isfinite(s) and s > 0)]
    if bad:
        raise DataError(
            f"{', '.join(bad)} is constant over the training period, so it cannot be scaled: "
            "drop that feature or widen the date range"
        )
    return std


# --------------------------------------------------------------------------- assembly


def _scaled_targets(
    price: np.ndarray, spec: DataSpec, last_day: np.ndarray, n_train: int
) -> tuple[np.ndarray, float, float]:
    """(N,) float32 scaled target of each window, with mean and std of the train targets."""
    y_all = _target(price, spec.target, spec.horizon)[last_day + spec.horizon]
    y_train = y_all[:n_train]
    y_mean, y_std = float(y_train.mean()), float(_std(y_train, ("the target",))[0])
    return ((y_all - y_mean) / y_std).astype(np.float32), y_mean, y_std


def make_dataset(prices: pd.DataFrame, spec: DataSpec) -> Dataset:
    """Windows (N, T, F) float32 over scaled features; targets on day t+h; train-only scaling."""
    spec.validate()
    _check_index(prices)
    t0, counts = _layout(len(prices), spec)
    d0, T, h = _first_feature_day(spec.target), spec.lookback, spec.horizon
    price = _price(prices)
    feats, names = _features(prices, spec, price)
    # Rows d0 … last input day of the last train window: exactly what train windows read.
    train_rows = feats[d0 : t0 + counts["train"]]
    x_mean, x_std = train_rows.mean(axis=0), _std(train_rows, names)
    series = ((feats[d0:] - x_mean) / x_std).astype(np.float32)  # (D, F), D = rows - d0
    windows = sliding_window_view(series, T, axis=0).transpose(0, 2, 1)  # (D-T+1, T, F) view
    last_day = np.arange(t0, t0 + sum(counts.values()))  # t of each window
    y_scaled, y_mean, y_std = _scaled_targets(price, spec, last_day, counts["train"])

    splits = {}
    for name, (lo, hi) in _bounds(counts).items():
        t = last_day[lo:hi]
        splits[name] = Split(
            name=name,
            x=windows[lo:hi],  # window i starts on series row i, i.e. ends on day t0 + i
            y=y_scaled[lo:hi],
            dates=prices.index[t + h],
            last_price=price[t],
            actual_price=price[t + h],
            actual_return=np.log(price[t + h] / price[t]),
        )
    return Dataset(
        **splits,
        feature_names=names,
        target=spec.target,
        lookback=T,
        horizon=h,
        x_mean=x_mean,
        x_std=x_std,
        y_mean=y_mean,
        y_std=y_std,
        series=series,
        series_dates=prices.index[d0:],
    )
