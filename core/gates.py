"""Gate dynamics and the per-step state gain of each recurrent layer, on the probe batch.

A forward pass in float32 NumPy (as Keras computes) with the layer's own weights, Keras' equations, on the
fixed probe windows (training=False: no dropout). Per recurrent layer (rnn_0, rnn_1, ...):

- LSTM: ``input``, ``forget``, ``output``: mean gate activation over probe windows, time
  steps and units; ``holding``: share of forget-gate values above 0.95.
- GRU: ``update`` (z, the share of the old state kept: h = z*h_prev + (1-z)*candidate),
  ``reset``; ``holding``: share of update-gate values above 0.95.
- SimpleRNN: ``tanh_slope``: mean activation slope (1 - h^2 for tanh); ``saturated``:
  share of units with |h| > 0.95 (slope below 0.1).
- ``step_factor``: the mean per-step gain of a gradient flowing back along the layer's own
  state, exp(mean over probe windows and steps t of log(|J_t^T u_t| / |u_t|)), where J_t =
  d state_t / d state_{t-1} (state = h; for LSTM the pair (h, c)) and u is a gradient
  vector carried back from the last step (a fixed random unit vector there), renormalised
  each step. This is the finite-time Lyapunov exponent of the backward recursion: over k
  steps the state's gradient shrinks or grows by about step_factor**k. Below 1, the layer
  forgets geometrically; near 1, it carries gradients far. Layer l's input is layer l-1's
  outputs, so the factor isolates each layer's own recurrence.

Works for separate layers and for the wavefront stack alike (core.gradstats.weight_owners
names the cells either way); a layer whose weights are not finite gets None.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from core.cells import CELL_OF as _CELLS
from core.gradstats import weight_owners


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # stable for large |a|


def _activation(name: str) -> tuple[Any, Any]:
    """(f, slope(pre, out)) of a cell activation; the names ModelSpec allows."""
    return {
        "tanh": (np.tanh, lambda a, y: 1.0 - y * y),
        "relu": (lambda a: np.maximum(a, 0.0), lambda a, y: (a > 0).astype(a.dtype)),
        "sigmoid": (_sigmoid, lambda a, y: y * (1.0 - y)),
        "linear": (lambda a: a, lambda a, y: np.ones_like(a)),
    }[name]


def _np(v: Any) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float32)


def _rnn(cell: Any, x: np.ndarray, act: str) -> tuple[np.ndarray, dict, list]:
    f, slope = _activation(act)
    W, R = _np(cell.kernel), _np(cell.recurrent_kernel)
    b = _np(cell.bias) if cell.use_bias else 0.0
    xw = x @ W + b
    h = np.zeros((x.shape[0], R.shape[0]), np.float32)
    hs, slopes = [], []
    for t in range(x.shape[1]):
        a = xw[:, t] + h @ R
        h = f(a)
        hs.append(h)
        slopes.append(slope(a, h))
    s = np.stack(slopes, 1)
    stats = {"tanh_slope": float(s.mean()), "saturated": float((s < 0.1).mean())}
    # Backward: d h_{t-1} = (d h_t * slope_t) @ R^T.
    steps = [lambda u, s_t=s_t: (u * s_t) @ R.T for s_t in slopes]
    return np.stack(hs, 1), stats, steps


def _gru(cell: Any, x: np.ndarray, act: str) -> tuple[np.ndarray, dict, list]:
    if not getattr(cell, "reset_after", True):
        raise ValueError("only reset_after=True GRUs (Keras' default) are recorded")
    f, slope = _activation(act)
    W, R = _np(cell.kernel), _np(cell.recurrent_kernel)
    U = R.shape[0]
    b_in, b_rec = (_np(cell.bias)[0], _np(cell.bias)[1]) if cell.use_bias else (0.0, 0.0)
    xw = x @ W + b_in
    h = np.zeros((x.shape[0], U), np.float32)
    hs, zs, rs, steps = [], [], [], []
    for t in range(x.shape[1]):
        inner = h @ R + b_rec
        z = _sigmoid(xw[:, t, :U] + inner[:, :U])
        r = _sigmoid(xw[:, t, U : 2 * U] + inner[:, U : 2 * U])
        a = xw[:, t, 2 * U :] + r * inner[:, 2 * U :]
        cand = f(a)
        h_prev, h = h, z * h + (1 - z) * cand
        hs.append(h)
        zs.append(z)
        rs.append(r)
        steps.append(_gru_back(R, h_prev, z, r, cand, slope(a, cand), inner[:, 2 * U :]))
    z_all, r_all = np.stack(zs, 1), np.stack(rs, 1)
    stats = {
        "update": float(z_all.mean()),
        "reset": float(r_all.mean()),
        "holding": float((z_all > 0.95).mean()),
    }
    return np.stack(hs, 1), stats, steps


def _gru_back(R: np.ndarray, h_prev: Any, z: Any, r: Any, cand: Any, s: Any, rh: Any) -> Any:
    def back(u: np.ndarray) -> np.ndarray:
        da_z = u * (h_prev - cand) * z * (1 - z)
        da_h = u * (1 - z) * s
        da_r = da_h * rh * r * (1 - r)
        return u * z + np.concatenate([da_z, da_r, da_h * r], axis=1) @ R.T

    return back


def _lstm(cell: Any, x: np.ndarray, act: str) -> tuple[np.ndarray, dict, list]:
    f, slope = _activation(act)
    W, R = _np(cell.kernel), _np(cell.recurrent_kernel)
    U = R.shape[0]
    xw = x @ W + (_np(cell.bias) if cell.use_bias else 0.0)
    h = c = np.zeros((x.shape[0], U), np.float32)
    hs, gates, steps = [], [], []
    for t in range(x.shape[1]):
        a = xw[:, t] + h @ R
        i, fg, o = (_sigmoid(a[:, k * U : (k + 1) * U]) for k in (0, 1, 3))
        a_g = a[:, 2 * U : 3 * U]
        g = f(a_g)
        c_prev, c = c, fg * c + i * g
        fc = f(c)
        h = o * fc
        hs.append(h)
        gates.append((i, fg, o))
        steps.append(_lstm_back(R, U, i, fg, o, g, slope(a_g, g), c_prev, fc, slope(c, fc)))
    i_all, f_all, o_all = (np.stack(k, 1) for k in zip(*gates, strict=True))
    stats = {
        "input": float(i_all.mean()),
        "forget": float(f_all.mean()),
        "output": float(o_all.mean()),
        "holding": float((f_all > 0.95).mean()),
    }
    return np.stack(hs, 1), stats, steps


def _lstm_back(R: Any, U: int, i: Any, fg: Any, o: Any, g: Any, sg: Any, c_prev: Any, fc: Any, sc: Any) -> Any:  # fmt: skip
    def back(u: np.ndarray) -> np.ndarray:
        dh, dc = u[:, :U], u[:, U:]
        dc = dc + dh * o * sc
        da = np.concatenate(
            [dc * g * i * (1 - i), dc * c_prev * fg * (1 - fg), dc * i * sg, dh * fc * o * (1 - o)],
            axis=1,
        )
        return np.concatenate([da @ R.T, dc * fg], axis=1)

    return back


_FORWARD = {"rnn": _rnn, "gru": _gru, "lstm": _lstm}


def step_factor(steps: list, width: int, batch: int, seed: int = 0) -> float:
    """exp(mean log per-step gain) of a unit vector carried back from the last step."""
    u = np.random.default_rng(seed).normal(size=(batch, width)).astype(np.float32)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    logs = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for back in reversed(steps[1:]):  # J_t for t = T-1 .. 1: T-1 steps back
            u = back(u)
            norm = np.linalg.norm(u, axis=1, keepdims=True)
            logs.append(np.log(norm[:, 0]))
            u = u / np.where(norm > 0, norm, 1.0)
    return float(np.exp(np.mean(logs))) if logs else 1.0


@functools.cache
def _blas_local_threads() -> Any:
    """OpenBLAS' per-thread thread count setter of numpy's bundled OpenBLAS, or None."""
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*")
    for path in glob.glob(libs):
        with contextlib.suppress(OSError, AttributeError):
            setter = ctypes.CDLL(path).openblas_set_num_threads_local
            setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
            return setter
    return None


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """These are hundreds of tiny matmuls: multithreaded OpenBLAS beside TensorFlow's
    threads spent 12x the CPU time (1.9 s against 0.16 s a call, 2 x 64 LSTM, T = 60, on
    the 2-core box). One BLAS thread, for the calling thread only, while measuring."""
    setter = _blas_local_threads()
    previous = setter(1) if setter else None
    try:
        yield
    finally:
        if setter and previous:
            setter(previous)


def measure(model: Any, x: np.ndarray) -> dict[str, dict[str, float | None]]:
    """{layer: {gate means..., "step_factor"}} for every recurrent layer, on windows x."""
    with _one_blas_thread():
        return _measure(model, x)


def _measure(model: Any, x: np.ndarray) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    h = np.asarray(x, dtype=np.float32)
    for name, owner in weight_owners(model):
        cell = getattr(owner, "cell", owner)
        kind = _CELLS.get(type(cell).__name__.removesuffix("Cell"))
        if kind is None:
            continue
        act = getattr(cell.activation, "__name__", "tanh")
        with np.errstate(over="ignore", invalid="ignore"):
            h, stats, steps = _FORWARD[kind](cell, h, act)
        width = (2 if kind == "lstm" else 1) * h.shape[2]
        factor = step_factor(steps, width, h.shape[0]) if np.isfinite(h).all() else None
        row = {**stats, "step_factor": factor}
        out[name] = {k: (v if v is not None and np.isfinite(v) else None) for k, v in row.items()}
    return out


def memory_horizon(norms: list | None, ratio: float = 1e-3) -> int | None:
    """Largest lag k with g_k >= ratio * max_j g_j (in steps); None if a g is missing or all 0.

    norms: g_0 .. g_{T-1}, the gradients through time of one probe (k = lag back from the
    last step). The input k steps back still moves the loss by at least a thousandth of the
    input that moves it most: beyond the horizon, the model cannot learn from the input.
    """
    if not norms or any(g is None for g in norms):
        return None
    g = np.asarray(norms, dtype=np.float64)
    top = g.max()
    if not np.isfinite(top) or top <= 0:
        return None
    return int(np.nonzero(g >= ratio * top)[0].max())
