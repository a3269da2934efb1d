"""Does the instrument show the vanishing gradient? A long-memory task with a known answer.

Each sample is T = 50 steps of two channels: N(0, 1) noise, and a marker that is 1.0 at step
T-1-40 = 9 and 0 elsewhere (the marker of the classic adding/copy problems). The target is
the noise value 40 steps back from the last step, so the cell must pick one number out of
the noise and hold it through 40 more noisy steps. All three cells get the same data
(seeds 1/2), model seed 1, 16 units, batch 16, Adam and 12 epochs; the learning rate is each
gated cell's own: LSTM learned at 2e-3 (not at 1e-2, 3e-2), GRU at 3e-2 (not at 2e-3, 3e-3,
5e-3). SimpleRNN runs at GRU's 3e-2. Tried at other rates (12 epochs, not asserted) it failed
at 3e-3 (val/var 1.003) and 5e-3 (0.994), and at 2e-3 failed with model seed 2 (1.0) but
PARTLY learned with seed 1 (0.25, g40/g0 3.5): the marker lets an ungated cell get somewhere.
Measured on 2 shared CPU cores (seed 1, ~30 s per cell, ~95 s in all):
  LSTM learns it: val MSE / var 0.012 (jumps from ~1 to 0.12 at epoch 8), g40/g0 = 6.1.
  GRU learns it: val MSE / var 0.001 (jumps from ~1 to 0.06 at epoch 5), g40/g0 = 0.86.
  SimpleRNN does not: val MSE / var 1.00, g40/g0 1e-15 (1.09 and exactly 0, float32
  underflow, in a run outside pytest: the fused CPU kernels are not bit-reproducible).
At initialisation all three vanish (g40/g0: LSTM 1.5e-3, GRU 1.2e-8, SimpleRNN 1.5e-3,
orthogonal recurrent init, LSTM forget bias 1): the contrast appears only once the gates
have learned to hold the value, so the gated ratios are asserted to have grown too.
Robustness, not asserted: model seed 2/3 with data seeds 3/4 and 5/6, LSTM val/var 0.007
(learned at epoch 3) and 0.006 (epoch 8); GRU (seed 2) 0.001 (epoch 3).
The learning is a phase change whose epoch varies with the seed; 12 epochs leave a margin.
"""

import types

import numpy as np
import pytest

from core.config import RunSpec

training = pytest.importorskip("core.training")

LAG = 40
T = LAG + 10  # the remembered step is 9, not the first: a zero initial state cannot help
EPOCHS = 12
LEARNING_RATE = {"lstm": 2e-3, "gru": 3e-2, "rnn": 3e-2}


def _split(n, seed):
    noise = np.random.default_rng(seed).normal(size=(n, T, 1)).astype(np.float32)
    marker = np.zeros_like(noise)
    marker[:, T - 1 - LAG, 0] = 1.0
    x = np.concatenate([noise, marker], axis=2)  # (n, T, 2)
    return types.SimpleNamespace(x=x, y=noise[:, T - 1 - LAG, 0].copy())


def _run(cell):
    """(val MSE / var, g40/g0 at initialisation, g40/g0 after the last epoch)."""
    ds = types.SimpleNamespace(train=_split(2000, 1), val=_split(500, 2))
    spec = RunSpec().replace(
        cell=cell, units=16, lookback=T, batch_size=16, learning_rate=LEARNING_RATE[cell],
        epochs=EPOCHS, patience=0, probe_size=64, seed=1,
    )  # fmt: skip
    result = training.fit(spec, ds)
    assert result.epochs_run == EPOCHS
    rel_mse = result.history[-1]["val_loss"] / float(np.var(ds.val.y))
    norms = result.gradients_through_time["norms"]
    first, last = norms[0], norms[-1]
    return rel_mse, first[LAG] / first[0], last[LAG] / last[0]


@pytest.mark.slow
def test_gated_cells_hold_a_value_40_steps_and_simple_rnn_gradient_vanishes():
    results = {cell: _run(cell) for cell in ("lstm", "gru", "rnn")}
    for cell, (mse, init, final) in results.items():
        print(f"{cell}: val/var {mse:.4f}  g40/g0 init {init:.3g} final {final:.3g}")
    rnn_mse, _, rnn_ratio = results["rnn"]
    for cell in ("lstm", "gru"):
        mse, init, final = results[cell]
        assert mse < 0.3, cell  # measured 0.012 (LSTM), 0.001 (GRU)
        assert final > 0.1, cell  # measured 6.1, 0.86
        assert final > 100 * init, cell  # learned: from 1.5e-3 and 1.2e-8
        assert rnn_ratio < 1e-3 * final, cell
    assert rnn_mse > 0.8  # measured 1.00: predicts the mean
    assert rnn_ratio < 1e-3  # measured 1e-15
