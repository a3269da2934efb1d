"""The wavefront stack (core/wavefront.py) is the plain stack of layers, computed faster.

Same spec and seed -> same initial weights, the same predictions and the same gradients
(weights and inputs) as separate Keras layers; it saves and loads in safe mode; training
on the CPU uses it and still reports every layer by name.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf

from core import training
from core.config import ModelSpec
from core.gradstats import layer_groups
from core.models import build_model, use_wavefront
from core.wavefront import WavefrontCells

T = 12


def _pair(cell: str, layers: int, **kw):
    spec = ModelSpec(cell=cell, layers=layers, units=8, **kw)
    plain = build_model(spec, T, 2, seed=3, model_class=keras.Model)
    wave = build_model(spec, T, 2, seed=3, model_class=keras.Model, wavefront=True)
    return plain, wave


def _batch(n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.normal(size=(n, T, 2)).astype(np.float32), rng.normal(size=n).astype(np.float32)


def _grads(model: keras.Model, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """d loss / d (every trainable weight, then the input x)."""
    x_t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        loss = tf.reduce_mean(tf.square(tf.reshape(model(x_t), [-1]) - y))
    grads = tape.gradient(loss, [*model.trainable_variables, x_t])
    return [g.numpy() for g in grads]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [2, 3])
def test_same_weights_outputs_and_gradients_as_layers(cell: str, layers: int) -> None:
    plain, wave = _pair(cell, layers)
    assert [w.shape for w in wave.get_weights()] == [w.shape for w in plain.get_weights()]
    for a, b in zip(plain.get_weights(), wave.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # same seeded initial weights, same order
    x, y = _batch()
    np.testing.assert_allclose(wave(x).numpy(), plain(x).numpy(), rtol=0, atol=1e-6)
    for a, b in zip(_grads(plain, x, y), _grads(wave, x, y), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    assert int(wave.count_params()) == int(plain.count_params())


def test_diagnostics_name_each_layer_as_for_separate_layers() -> None:
    plain, wave = _pair("lstm", 2)
    assert [c.name for c in wave.get_layer("rnn_stack").cell.cells] == ["rnn_0", "rnn_1"]
    assert layer_groups(wave)[0] == layer_groups(plain)[0] == ["rnn_0", "rnn_1", "head"]
    assert training.spectral_radii(wave) == training.spectral_radii(plain)
    assert set(training.spectral_radii(wave)[1]["rnn_1"]) == {"i", "f", "c", "o"}


def test_saves_and_loads_in_safe_mode(tmp_path) -> None:
    _, wave = _pair("gru", 2)
    path = tmp_path / "m.keras"
    training.save_model(wave, path)
    loaded = training.load_model(path)
    assert isinstance(loaded.get_layer("rnn_stack").cell, WavefrontCells)
    x, _ = _batch()
    np.testing.assert_array_equal(training.predict(loaded, x), training.predict(wave, x))


def test_when_it_is_used() -> None:
    assert use_wavefront(ModelSpec(cell="lstm", layers=2), gpu=False)
    assert not use_wavefront(ModelSpec(cell="lstm", layers=2), gpu=True)  # cuDNN per layer
    assert not use_wavefront(ModelSpec(cell="lstm", layers=1), gpu=False)
    assert not use_wavefront(ModelSpec(cell="gru", layers=3, recurrent_dropout=0.1), gpu=False)
    with pytest.raises(ValueError, match="2\\+ layers"):
        build_model(ModelSpec(cell="rnn", layers=1), T, 1, seed=0, wavefront=True)


def test_input_dropout_still_applies() -> None:
    spec = ModelSpec(cell="lstm", layers=2, units=8, dropout=0.5)
    model = build_model(spec, T, 2, seed=0, model_class=keras.Model, wavefront=True)
    x, _ = _batch()
    assert not np.allclose(model(x, training=True).numpy(), model(x, training=False).numpy())
