"""Numpy demos of why gradients vanish or explode through time; instant, no keras.

Backpropagation through T steps of h_t = φ(W h_{t-1} + U x_t) multiplies T Jacobians
diag(φ'(·)) W. Without the φ' factor that product is Wⁿ, and ‖Wⁿx‖ shrinks or grows like
ρ(W)ⁿ, where ρ is the spectral radius (largest |eigenvalue|). The sign of W's entries does not
decide it: scaling W by a positive constant keeps every sign and changes ρ, and with it the
fate of the gradient.
"""

from __future__ import annotations

import numpy as np

from core.errors import SpecError


def _check(name: str, value: float, lo: float, hi: float) -> None:
    if not (isinstance(value, (int, float)) and np.isfinite(value) and lo <= value <= hi):
        raise SpecError(f"{name} must be a number between {lo} and {hi}, got {value!r}")


def spectral_radius(w: np.ndarray) -> float:
    """max |eigenvalue| of a square matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(w, dtype=float)))))


def random_matrix(rho: float, size: int = 8, seed: int = 0) -> np.ndarray:
    """A Gaussian size×size matrix rescaled so that its spectral radius is exactly rho."""
    _check("spectral radius", rho, 1e-6, 100.0)
    _check("matrix size", size, 1, 512)
    w = np.random.default_rng(seed).standard_normal((int(size), int(size)))
    return w * (rho / spectral_radius(w))


def power_norms(w: np.ndarray, x: np.ndarray, n_max: int) -> np.ndarray:
    """‖Wⁿx‖₂ for n = 0…n_max, shape (n_max + 1,)."""
    _check("n_max", n_max, 0, 10_000)
    out = np.empty(int(n_max) + 1)
    v = np.asarray(x, dtype=float)
    for n in range(int(n_max) + 1):
        out[n] = np.linalg.norm(v)
        v = w @ v
    return out


def unit_vector(size: int, seed: int = 0) -> np.ndarray:
    """A random direction with ‖x‖ = 1; its own stream so x is the same for every rho."""
    v = np.random.default_rng([seed, 1]).standard_normal(int(size))
    return v / np.linalg.norm(v)


def matrix_power_norms(rho: float, n_max: int = 50, size: int = 8, seed: int = 0) -> np.ndarray:
    """‖Wⁿx‖ for n = 0…n_max, W random with spectral radius rho, x a random unit vector.

    For large n the norm behaves like c·ρⁿ: ρ < 1 vanishes, ρ > 1 explodes.
    """
    return power_norms(random_matrix(rho, size, seed), unit_vector(size, seed), n_max)


def same_signs_other_radius(w: np.ndarray, rho2: float) -> np.ndarray:
    """W scaled by a positive constant to spectral radius rho2: every entry keeps its sign."""
    _check("spectral radius", rho2, 1e-6, 100.0)
    w = np.asarray(w, dtype=float)
    rho = spectral_radius(w)
    if rho == 0:
        raise SpecError("the matrix is nilpotent (spectral radius 0): pick another seed")
    return w * (rho2 / rho)


def tanh_rnn_jacobian(
    w: float, n_max: int = 50, seed: int = 0, x_scale: float = 0.5, h0: float | None = None
) -> np.ndarray:
    """|∂h_n/∂h_0| for n = 0…n_max in the scalar RNN h_t = tanh(w·h_{t-1} + x_t).

    Each step multiplies by w·(1 − h_t²). Because tanh' ≤ 1, |w| < 1 always vanishes; a large
    |w| pushes h into saturation where tanh' ≈ 0, so the product usually vanishes there too.
    Inputs x_t ~ N(0, x_scale²) and h_0 (uniform in (−1, 1) unless given) come from ``seed``.
    """
    _check("w", w, -100.0, 100.0)
    _check("n_max", n_max, 0, 10_000)
    _check("input scale", x_scale, 0.0, 100.0)
    rng = np.random.default_rng(seed)
    h = float(rng.uniform(-1, 1)) if h0 is None else float(h0)
    xs = rng.normal(0.0, x_scale, int(n_max))
    out = np.empty(int(n_max) + 1)
    out[0] = grad = 1.0
    for n, x in enumerate(xs, start=1):
        h = np.tanh(w * h + x)
        grad *= w * (1.0 - h * h)
        out[n] = abs(grad)
    return out


def linear_rnn_jacobian(w: float, n_max: int = 50) -> np.ndarray:
    """|∂h_n/∂h_0| = |w|ⁿ for the linear RNN h_t = w·h_{t-1} + x_t: the tanh-free reference."""
    _check("w", w, -100.0, 100.0)
    _check("n_max", n_max, 0, 10_000)
    return np.abs(float(w)) ** np.arange(int(n_max) + 1)


def growth_rate(norms: np.ndarray, start: int | None = None) -> float:
    """Geometric mean ratio norms[n+1]/norms[n] over the tail (from ``start``, default half way)."""
    norms = np.asarray(norms, dtype=float)
    start = len(norms) // 2 if start is None else start
    steps = len(norms) - 1 - start
    if steps < 1 or norms[start] <= 0 or norms[-1] <= 0:
        return float("nan")
    return float((norms[-1] / norms[start]) ** (1.0 / steps))
