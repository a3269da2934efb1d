"""Gate dynamics and the memory horizon: recorded numbers against independent computations."""

import json

import numpy as np
import pytest

from core.cli import main
from core.gates import memory_horizon

keras = pytest.importorskip("keras")


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _independent(cell, w, x):
    """Keras' cell equations written out on the saved weights: (gate means, last h)."""
    W, R, b = (np.asarray(v, dtype=np.float64) for v in w)
    n, T, _ = x.shape
    U = R.shape[0]
    h, c = np.zeros((n, U)), np.zeros((n, U))
    seen = {}
    for t in range(T):
        if cell == "lstm":
            a = x[:, t] @ W + h @ R + b
            i, f, g, o = (
                _sig(a[:, :U]),
                _sig(a[:, U : 2 * U]),
                np.tanh(a[:, 2 * U : 3 * U]),
                _sig(a[:, 3 * U :]),
            )
            c = f * c + i * g
            h = o * np.tanh(c)
            step = {"input": i, "forget": f, "output": o}
        else:  # GRU, reset_after: b[0] input bias, b[1] recurrent bias
            xi, hr = x[:, t] @ W + b[0], h @ R + b[1]
            z, r = _sig(xi[:, :U] + hr[:, :U]), _sig(xi[:, U : 2 * U] + hr[:, U : 2 * U])
            cand = np.tanh(xi[:, 2 * U :] + r * hr[:, 2 * U :])
            h = z * h + (1 - z) * cand
            step = {"update": z, "reset": r}
        for k, v in step.items():
            seen.setdefault(k, []).append(v)
    return {k: float(np.mean(v)) for k, v in seen.items()}, h


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recorded_gates_equal_a_forward_pass_of_the_saved_weights(cell, store_root, capsys):
    argv = ["train", "--source", "task", "--lag", "5", "--lookback", "8", "--n-train", "128"]
    argv += ["--n-val", "32", "--n-test", "16", "--units", "6", "--epochs", "2"]
    argv += ["--patience", "0", "--cell", cell, "--json"]
    assert main(argv) == 0
    rid = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    run = store_root / rid
    probe = np.load(run / "probe.npz")["x"].astype(np.float64)
    model = keras.saving.load_model(run / "model.keras", compile=False)
    layer = model.get_layer("rnn_0")
    expected, h_last = _independent(cell, layer.get_weights(), probe)
    # The written-out equations are Keras' own: the layer's output agrees.
    keras_h = keras.Model(model.inputs, layer.output).predict(probe, verbose=0)
    np.testing.assert_allclose(h_last, keras_h, atol=1e-4)
    summary = json.loads((run / "summary.json").read_text())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for recorded in (summary["kept_gates"]["rnn_0"], rows[-1]["gates"]["rnn_0"]):
        for gate, value in expected.items():
            assert recorded[gate] == pytest.approx(value, abs=1e-4), gate
    assert 0 < rows[-1]["step_factor"]["rnn_0"] < 10
    gtt = json.loads((run / "gradients_through_time.json").read_text())
    kept = gtt["kept"]["norms"]
    g = np.asarray(kept)
    lags = [k for k in range(len(g)) if g[k] >= 1e-3 * g.max()]
    assert summary["memory_horizon"] == max(lags) == gtt["kept"]["memory_horizon"]
    assert gtt["kept"]["epoch"] == 2
    assert [r["memory_horizon"] for r in rows] == [memory_horizon(n) for n in gtt["norms"][1:]]


def test_memory_horizon_definition():
    assert memory_horizon([1.0, 0.5, 2e-3, 1e-4, 1.5e-3]) == 4
    assert memory_horizon([1.0, 1e-9, 1e-12]) == 0
    assert memory_horizon([2.0, 3.0, 0.0031, 0.0029]) == 2
    assert memory_horizon([1.0, None]) is None
    assert memory_horizon([0.0, 0.0]) is None


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_wavefront_stack_records_what_separate_layers_do(cell):
    from core import gates
    from core.config import ModelSpec
    from core.models import build_model

    spec = ModelSpec(cell=cell, layers=2, units=5)
    x = np.random.default_rng(0).normal(size=(7, 9, 2)).astype(np.float32)
    plain = build_model(spec, 9, 2, seed=3, model_class=keras.Model)
    wave = build_model(spec, 9, 2, seed=3, model_class=keras.Model, wavefront=True)
    a, b = gates.measure(plain, x), gates.measure(wave, x)
    assert set(a) == set(b) == {"rnn_0", "rnn_1"}
    for layer in a:
        assert a[layer].keys() == b[layer].keys()
        for k in a[layer]:
            assert a[layer][k] == pytest.approx(b[layer][k], rel=1e-6), (layer, k)


def test_step_factor_of_a_linear_rnn_is_its_contraction():
    """A 1-unit linear SimpleRNN h_t = w h_{t-1} + x_t has J_t = w: the factor is |w|."""
    from core import gates
    from core.config import ModelSpec
    from core.models import build_model

    model = build_model(ModelSpec(cell="rnn", units=1, activation="linear"), 6, 1, 0, keras.Model)
    layer = model.get_layer("rnn_0")
    layer.set_weights([np.ones((1, 1)), np.full((1, 1), -0.7), np.zeros(1)])
    got = gates.measure(model, np.ones((4, 6, 1), dtype=np.float32))["rnn_0"]
    assert got["step_factor"] == pytest.approx(0.7)
    assert got["tanh_slope"] == 1.0


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_backward_steps_equal_autodiff_through_the_keras_cell(cell):
    """Each step of the step-factor recursion is u ↦ (∂state_t/∂state_{t−1})ᵀ u, as
    TensorFlow's autodiff through Keras' own cell computes it."""
    import tensorflow as tf

    from core import gates
    from core.config import ModelSpec
    from core.models import build_model

    model = build_model(ModelSpec(cell=cell, units=4), 5, 2, 7, keras.Model)
    k = model.get_layer("rnn_0").cell
    w = [np.random.default_rng(1).normal(0, 0.6, v.shape) for v in k.get_weights()]
    k.set_weights(w)  # non-trivial biases and gates
    x = np.random.default_rng(2).normal(size=(3, 5, 2))
    _, _, steps = gates._FORWARD[cell](k, x, "tanh")
    width = 8 if cell == "lstm" else 4
    u = np.random.default_rng(3).normal(size=(3, width))
    states = [tf.zeros((3, 4))] * (2 if cell == "lstm" else 1)
    for t in range(5):
        prev = [tf.Variable(s) for s in states]
        with tf.GradientTape() as tape:
            _, new = k(tf.constant(x[:, t], tf.float32), prev if cell != "rnn" else prev[0])
            new = new if isinstance(new, (list, tuple)) else [new]
            out = tf.concat(new, axis=1)
            target = tf.reduce_sum(out * tf.constant(u, tf.float32))
        grads = tape.gradient(target, prev)
        expected = np.concatenate([g.numpy() for g in grads], axis=1)
        np.testing.assert_allclose(steps[t](u), expected, atol=1e-4)
        states = [tf.constant(s) for s in new]
