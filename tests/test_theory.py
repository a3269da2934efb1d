"""The numpy theory demos: the spectral radius, not the sign of the entries, decides."""

from __future__ import annotations

import numpy as np
import pytest

from core import theory
from core.errors import SpecError


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.95])
def test_power_norms_decay_below_radius_one(rho):
    norms = theory.matrix_power_norms(rho, n_max=80, size=8, seed=1)
    assert norms.shape == (81,)
    assert norms[0] == pytest.approx(1.0)
    assert norms[-1] < 0.05 * norms[0]
    assert theory.growth_rate(norms) == pytest.approx(rho, rel=0.03)


@pytest.mark.parametrize("rho", [1.1, 1.3, 1.5])
def test_power_norms_grow_geometrically_at_rate_rho(rho):
    norms = theory.matrix_power_norms(rho, n_max=80, size=8, seed=2)
    assert norms[-1] > 20 * norms[0]
    assert theory.growth_rate(norms) == pytest.approx(rho, rel=0.03)


def test_random_matrix_has_the_requested_radius():
    w = theory.random_matrix(1.25, size=10, seed=3)
    assert theory.spectral_radius(w) == pytest.approx(1.25, rel=1e-9)


def test_same_signs_other_radius_behaves_differently():
    w = theory.random_matrix(0.9, size=8, seed=4)
    w2 = theory.same_signs_other_radius(w, 1.2)
    assert np.array_equal(np.sign(w), np.sign(w2))  # every entry keeps its sign
    assert theory.spectral_radius(w2) == pytest.approx(1.2, rel=1e-9)
    x = theory.unit_vector(8, seed=4)
    shrink, grow = theory.power_norms(w, x, 60), theory.power_norms(w2, x, 60)
    assert shrink[-1] < 0.1 < 10 < grow[-1]


def test_flipping_every_sign_keeps_the_fate():
    # -W has every sign flipped but the same spectral radius, so the same norms.
    w = theory.random_matrix(1.1, size=6, seed=5)
    x = theory.unit_vector(6, seed=5)
    np.testing.assert_allclose(theory.power_norms(-w, x, 40), theory.power_norms(w, x, 40))


@pytest.mark.parametrize("w", [0.3, 0.9, -0.95])
def test_tanh_jacobian_vanishes_when_weight_below_one(w):
    grads = theory.tanh_rnn_jacobian(w, n_max=60, seed=0)
    assert grads[0] == 1.0
    assert np.all(np.diff(grads) <= 0)  # each factor |w|(1-h²) is below 1
    assert grads[-1] < abs(w) ** 60 + 1e-12


def test_tanh_saturation_vanishes_even_for_large_weight():
    grads = theory.tanh_rnn_jacobian(4.0, n_max=60, seed=0)
    linear = theory.linear_rnn_jacobian(4.0, n_max=60)
    assert grads[-1] < 1e-6 < 1e30 < linear[-1]


def test_tanh_jacobian_is_deterministic_and_matches_a_hand_computation():
    grads = theory.tanh_rnn_jacobian(0.7, n_max=2, x_scale=0.0, h0=0.5)
    h1 = np.tanh(0.35)
    h2 = np.tanh(0.7 * h1)
    assert grads[1] == pytest.approx(0.7 * (1 - h1**2))
    assert grads[2] == pytest.approx(0.7 * (1 - h1**2) * 0.7 * (1 - h2**2))
    np.testing.assert_array_equal(
        theory.tanh_rnn_jacobian(1.5, 30, seed=9), theory.tanh_rnn_jacobian(1.5, 30, seed=9)
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: theory.random_matrix(-1.0),
        lambda: theory.random_matrix(float("nan")),
        lambda: theory.matrix_power_norms(0.9, n_max=-1),
        lambda: theory.tanh_rnn_jacobian(1000.0),
        lambda: theory.same_signs_other_radius(np.eye(2), 0.0),
        lambda: theory.same_signs_other_radius(np.zeros((2, 2)), 1.0),
    ],
)
def test_bad_settings_are_user_errors(call):
    with pytest.raises(SpecError):
        call()
