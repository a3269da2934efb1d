"""Backend-neutral pieces of the gradient-norm statistics that both train steps share.

A step accumulates, per epoch, the sum and max of the global gradient norm and of each
layer's norm (slot 0 global, slots 1..L the layers), plus two counters: the steps recorded
and the steps whose global norm exceeded clipnorm. The accumulators live on the device
(core/backend_tf.py, core/backend_jax.py); this module groups variables by layer and
turns the two arrays into the metrics.jsonl row docs/ARCHITECTURE.md defines.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def finite(value: Any) -> float | None:
    """JSON has no NaN/inf: a non-finite number is written as null."""
    value = float(value)
    return value if math.isfinite(value) else None


def layer_groups(model: Any) -> tuple[list[str], list[list[int]]]:
    """Layer names that own trainable weights, and each one's indices into trainable_weights.

    Computed once, in Python, so the compiled step only sums precomputed index groups.
    """
    index = {id(v): i for i, v in enumerate(model.trainable_weights)}
    names, groups = [], []
    for name, owner in weight_owners(model):
        group = [index[id(v)] for v in owner.trainable_weights]
        if group:
            names.append(name)
            groups.append(group)
    return names, groups


def weight_owners(model: Any) -> list[tuple[str, Any]]:
    """(name, layer or cell) in model order; a wavefront stack, whose cell holds .cells,
    counts as its cells, so its rows read rnn_0, rnn_1, ... as separate layers' would."""
    owners = []
    for layer in model.layers:
        cells = getattr(getattr(layer, "cell", None), "cells", None)
        owners += [(c.name, c) for c in cells] if cells else [(layer.name, layer)]
    return owners


def slots(n_layers: int) -> tuple[int, int]:
    """Sizes of the (sums, maxes) accumulators for a model with n_layers weighted layers."""
    return n_layers + 3, n_layers + 1


def read_and_reset(sums: Any, maxes: Any, names: list[str]) -> tuple[dict, float | None]:
    """An epoch's row from the two accumulator variables (TensorFlow's or Keras'), which are
    then zeroed for the next epoch. Called between epochs, when no step is in flight."""
    sums_now, maxes_now = np.asarray(sums.numpy()), np.asarray(maxes.numpy())
    sums.assign(np.zeros_like(sums_now))
    maxes.assign(np.zeros_like(maxes_now))
    return summarize(sums_now, maxes_now, names)


def summarize(sums: np.ndarray, maxes: np.ndarray, names: list[str]) -> tuple[dict, float | None]:
    """({"global"|layer: {"mean", "max"}}, clipped fraction) from one epoch's accumulators."""
    steps, clipped = float(sums[-2]), float(sums[-1])
    out = {}
    for i, name in enumerate(["global", *names]):
        mean = sums[i] / steps if steps else float("nan")
        out[name] = {"mean": finite(mean), "max": finite(maxes[i])}
    return out, (finite(clipped / steps) if steps else None)
