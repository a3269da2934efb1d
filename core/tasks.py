"""Memory tasks: synthetic sequences with a known answer, as a data source beside prices.

Where a price series has almost nothing to remember, these tasks have exactly one thing to
remember, a known number of steps back, so they show what a recurrent cell can carry
through time (docs/SCIENCE.md). Each sample is T = spec.lookback steps of two channels:

- ``marked-memory``: channel 0 is N(0, 1) noise, channel 1 a marker that is 1.0 at step
  T-1-lag and 0 elsewhere; the target is the noise value at the marked step, ``lag`` steps
  back from the last one (the task of tests/test_science.py).
- ``adding`` (Hochreiter & Schmidhuber 1997): channel 0 is U(0, 1), channel 1 marks two
  steps; the target is the sum of the two marked values. The first mark sits at least
  ``lag`` steps before the last step (uniform over steps 0 .. T-1-lag), the second at a
  uniformly drawn later step, so the answer needs a memory of at least ``lag`` steps.

Generation is deterministic from spec.task_seed (train, val and test are separate streams),
reads no file and needs no network. The data fingerprint is a hash of the generated arrays,
so a task run has a run id, lives in the run store and reopens like any other run.
The baseline is the trivial forecast: predict the training targets' mean; skill is
1 - MSE/MSE_baseline on the test split ("better than the obvious forecast", as on prices).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.config import DataSpec

TASKS = ("marked-memory", "adding")
SPLITS = ("train", "val", "test")
FEATURES = ("value", "marker")
FRAME_COLUMNS = ("sample", "split", "actual", "predicted", "baseline")


@dataclass(frozen=True, eq=False)
class TaskSplit:
    name: str
    x: np.ndarray  # (N, T, 2) float32: value channel, marker channel
    y: np.ndarray  # (N,) float32 target

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True, eq=False)
class TaskDataset:
    train: TaskSplit
    val: TaskSplit
    test: TaskSplit
    task: str
    lag: int
    lookback: int
    y_mean: float  # the baseline forecast: mean of the training targets
    feature_names: tuple[str, ...] = FEATURES
    target: str = "task"
    horizon: int = 0  # no "days ahead": the target is inside the window

    def split(self, name: str) -> TaskSplit:
        return getattr(self, name)


def _marked_memory(n: int, T: int, lag: int, rng: np.random.Generator) -> tuple:
    noise = rng.normal(size=(n, T, 1)).astype(np.float32)
    marker = np.zeros_like(noise)
    marker[:, T - 1 - lag, 0] = 1.0
    return np.concatenate([noise, marker], axis=2), noise[:, T - 1 - lag, 0].copy()


def _adding(n: int, T: int, lag: int, rng: np.random.Generator) -> tuple:
    values = rng.uniform(size=(n, T, 1)).astype(np.float32)
    first = rng.integers(0, T - lag, size=n)  # at least `lag` steps before the last step
    second = rng.integers(first + 1, T)  # a later step, up to the last
    marker = np.zeros_like(values)
    rows = np.arange(n)
    marker[rows, first, 0] = 1.0
    marker[rows, second, 0] = 1.0
    y = values[rows, first, 0] + values[rows, second, 0]
    return np.concatenate([values, marker], axis=2), y.astype(np.float32)


_MAKERS = {"marked-memory": _marked_memory, "adding": _adding}


def make_task_dataset(spec: DataSpec) -> TaskDataset:
    """The task's train/val/test samples, the same for the same spec on every machine."""
    spec.validate()
    splits: dict[str, TaskSplit] = {}
    counts = {"train": spec.n_train, "val": spec.n_val, "test": spec.n_test}
    for index, name in enumerate(SPLITS):
        # One independent stream per split: changing n_test never changes the train data.
        rng = np.random.default_rng([spec.task_seed, index])
        x, y = _MAKERS[spec.task](counts[name], spec.lookback, spec.lag, rng)
        x.flags.writeable = False
        splits[name] = TaskSplit(name, x, y)
    y_mean = float(np.mean(splits["train"].y, dtype=np.float64))
    return TaskDataset(
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        task=spec.task,
        lag=spec.lag,
        lookback=spec.lookback,
        y_mean=y_mean,
    )


def fingerprint(spec: DataSpec) -> str:
    """sha256 over the generated arrays (and the task name): the task run's data fingerprint."""
    ds = make_task_dataset(spec)
    h = hashlib.sha256(f"task:{ds.task}".encode())
    for name in SPLITS:
        s = ds.split(name)
        h.update(np.ascontiguousarray(s.x).tobytes())
        h.update(np.ascontiguousarray(s.y).tobytes())
    return h.hexdigest()


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def split_metrics(ds: TaskDataset, name: str, predicted: np.ndarray) -> dict[str, Any]:
    """MSE, RMSE, MAE of the model and of the training-mean baseline, and skill."""
    actual = np.asarray(ds.split(name).y, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if len(predicted) != len(actual):
        raise ValueError(f"{name} has {len(actual)} samples, got {len(predicted)} predictions")
    err, base_err = predicted - actual, ds.y_mean - actual
    mse, base_mse = float(np.mean(err**2)), float(np.mean(base_err**2))
    return {
        "mse": _finite(mse),
        "rmse": _finite(np.sqrt(mse)),
        "mae": _finite(np.mean(np.abs(err))),
        "baseline_mse": base_mse,
        "naive_rmse": float(np.sqrt(base_mse)),  # the baseline under the name pages share
        "naive_mae": float(np.mean(np.abs(base_err))),
        "skill": _finite(1.0 - mse / base_mse) if base_mse > 0 else None,
        "baseline": "training mean",
        "n": len(actual),
    }


def evaluate_task(ds: TaskDataset, preds: dict[str, np.ndarray]) -> tuple[dict, Any]:
    """Test metrics (split_metrics) and a predictions frame (FRAME_COLUMNS), no prices."""
    import pandas as pd

    if "test" not in preds or set(preds) - set(SPLITS):
        raise ValueError(f"preds needs a 'test' entry and only keys {SPLITS}, got {sorted(preds)}")
    parts = []
    for name in SPLITS:
        if name in preds:
            y = ds.split(name).y
            part = {
                "sample": np.arange(len(y)),
                "split": name,
                "actual": y.astype(np.float64),
                "predicted": np.asarray(preds[name], dtype=np.float64).reshape(-1),
                "baseline": np.full(len(y), ds.y_mean),
            }
            parts.append(pd.DataFrame(part, columns=list(FRAME_COLUMNS)))
    return split_metrics(ds, "test", preds["test"]), pd.concat(parts, ignore_index=True)
