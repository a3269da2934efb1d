"""Does the instrument show the vanishing gradient? A long-memory task with a known answer.

Each sample is 41 steps of N(0, 1) noise and the target is the input 40 steps back from the
last step, i.e. the first input: the cell must hold one number through 40 noisy steps.
Measured on 2 shared CPU cores (seed 1, numbers in the asserts' comments):
  GRU learns it: val MSE / var 0.0010 after 12 epochs (it jumps from ~1 to ~0.01 at epoch 6),
  and its lag-40 gradient then exceeds its lag-0 gradient (g40/g0 = 651).
  SimpleRNN does not: val MSE / var 1.001 after 8 epochs, and its lag-40 gradient
  underflows to exactly 0 in float32 (g40/g0 = 0; ~5e-3 at initialisation).
With other settings (batch 32, lr 1e-2) SimpleRNN reached val/var ~0.35-0.44: saturated tanh
units latch the SIGN of the first input (best MSE from the sign alone: 1 - 2/pi = 0.36),
memory that carries no gradient, so it cannot be refined beyond that.
LSTM (forget bias 1) is not asserted: in this budget it did not find the solution
(val ~0.98 after 30 epochs at lr 1e-2 or 3e-2); at initialisation gated cells vanish too
(g40/g0 ~2e-5 LSTM, ~1e-10 GRU vs ~1e-3 SimpleRNN with orthogonal init), the contrast
appears only once the gates have learned to hold the value.
"""

import types

import numpy as np
import pytest

from core.config import RunSpec

training = pytest.importorskip("core.training")

LAG = 40
T = LAG + 1


def _split(n, seed):
    x = np.random.default_rng(seed).normal(size=(n, T, 1)).astype(np.float32)
    return types.SimpleNamespace(x=x, y=x[:, T - 1 - LAG, 0].copy())


def _run(cell, epochs):
    ds = types.SimpleNamespace(train=_split(2000, 1), val=_split(500, 2))
    spec = RunSpec().replace(
        cell=cell, units=16, lookback=T, batch_size=16, learning_rate=0.03,
        epochs=epochs, patience=0, probe_size=64, seed=1,
    )  # fmt: skip
    result = training.fit(spec, ds)
    rel_mse = result.history[-1]["val_loss"] / float(np.var(ds.val.y))
    final = result.gradients_through_time["norms"][-1]
    return rel_mse, final[LAG] / final[0]


@pytest.mark.slow
def test_gru_holds_a_value_40_steps_and_simple_rnn_gradient_vanishes():
    gru_mse, gru_ratio = _run("gru", epochs=12)
    rnn_mse, rnn_ratio = _run("rnn", epochs=8)
    print(f"GRU val/var {gru_mse:.4f} g40/g0 {gru_ratio:.3g}")
    print(f"RNN val/var {rnn_mse:.4f} g40/g0 {rnn_ratio:.3g}")
    assert gru_mse < 0.3
    assert gru_ratio > 0.1
    assert rnn_mse > 0.8
    assert rnn_ratio < 1e-3
    assert rnn_ratio < 1e-4 * gru_ratio
