"""FLOPs of a recurrent training step, and the machine's measured float32 matmul peak.

Achieved GFLOP/s = samples/s x FLOPs per sample; divided by the peak it says how much of
the CPU the training loop really uses (small recurrent matmuls are latency-bound, so a
fraction well below 1 is expected, and the gap is what XLA fusion can win back).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from core.budget import GATES  # weight blocks per cell (4, 3, 1), from core.cells

TRAIN_OVER_FORWARD = 3.0  # backward costs about two forwards (grads of inputs and weights)


def forward_flops_per_sample(
    cell: str, layers: int, units: int, lookback: int, n_features: int
) -> float:
    """Multiply-adds x 2 of the recurrent layers' input and recurrent matmuls for one window.

    Per time step a layer computes x_t W (F_in x G*U) and h_{t-1} U (U x G*U): 2*G*U*(F_in+U)
    FLOPs. Element-wise gate maths and the Dense(1) head are left out: both are O(G*U),
    negligible beside the O(G*U^2) matmuls once U is a few dozen.
    """
    gates = GATES[cell]
    total, f_in = 0.0, n_features
    for _ in range(layers):
        total += lookback * 2.0 * gates * units * (f_in + units)
        f_in = units
    return total


def train_flops_per_sample(
    cell: str, layers: int, units: int, lookback: int, n_features: int
) -> float:
    """Forward + backward ~= 3 x forward (the usual rule for dense matmuls)."""
    return TRAIN_OVER_FORWARD * forward_flops_per_sample(cell, layers, units, lookback, n_features)


def _best_gflops(matmul, n: int, seconds: float) -> tuple[float, float]:
    """(best, median) GFLOP/s of repeated n x n matmuls over about `seconds`."""
    flops = 2.0 * n**3
    matmul()  # warm-up: thread pool start, page faults
    rates: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(rates) < 3:
        t0 = time.perf_counter()
        matmul()
        rates.append(flops / (time.perf_counter() - t0) / 1e9)
    return max(rates), statistics.median(rates)


def numpy_peak(n: int = 1024, seconds: float = 1.0) -> dict:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    best, median = _best_gflops(lambda: a @ b, n, seconds)
    return {"best": round(best, 1), "median": round(median, 1), "n": n}


def tf_peak(n: int = 1024, seconds: float = 1.0) -> dict:
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=(0, 1), dtype=tf.float32)
    b = tf.random.stateless_normal((n, n), seed=(0, 2), dtype=tf.float32)
    # .numpy() forces the result: eager TF may otherwise return before the work is done.
    best, median = _best_gflops(lambda: tf.linalg.matmul(a, b).numpy(), n, seconds)
    return {"best": round(best, 1), "median": round(median, 1), "n": n}


def machine_peak(seconds: float = 1.0, with_tf: bool = True) -> dict:
    """Measured float32 matmul peak: the better of numpy's BLAS and TF's Eigen/oneDNN."""
    probes = {"numpy": numpy_peak(seconds=seconds)}
    if with_tf:
        probes["tensorflow"] = tf_peak(seconds=seconds)
    peak = max(p["best"] for p in probes.values())
    return {"peak_gflops": peak, "probes": probes}


def achieved(samples_per_s: float, flops_per_sample: float, peak_gflops: float) -> dict:
    gflops = samples_per_s * flops_per_sample / 1e9
    return {
        "gflops": round(gflops, 2),
        "fraction_of_peak": round(gflops / peak_gflops, 4) if peak_gflops > 0 else None,
    }
