"""core.training: determinism, diagnostics, clipping, divergence, early stopping, saving."""

import json
import math
import types

import numpy as np
import pytest

from core.config import RunSpec
from core.errors import DataError, UserError

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
training = pytest.importorskip("core.training")

T = 6


def _split(n, seed, sign=1.0):
    x = np.random.default_rng(seed).normal(size=(n, T, 1)).astype(np.float32)
    return types.SimpleNamespace(x=x, y=(sign * x[:, -1, 0]).astype(np.float32))


def _ds(n_train=96, n_val=32, val_sign=1.0):
    return types.SimpleNamespace(train=_split(n_train, 1), val=_split(n_val, 2, val_sign))


def _spec(**changes):
    base = {"units": 4, "epochs": 2, "batch_size": 32, "lookback": T, "probe_size": 8}
    return RunSpec().replace(**{**base, **changes})


class _Sink:
    def __init__(self):
        self.probe = None
        self.epochs = []

    def on_probe(self, x, y):
        self.probe = (x.copy(), y.copy())

    def on_epoch(self, row, gtt):
        self.epochs.append((row, json.loads(json.dumps(gtt, allow_nan=False))))


def _without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_same_spec_and_seed_give_identical_history():
    spec = _spec(cell="gru", layers=2, dropout=0.2)
    a, b = training.fit(spec, _ds()), training.fit(spec, _ds())
    assert a.state == b.state == "done"
    assert _without_seconds(a.history) == _without_seconds(b.history)
    assert a.gradients_through_time == b.gradients_through_time
    other = training.fit(spec.replace(seed=1), _ds())
    assert _without_seconds(other.history) != _without_seconds(a.history)


def test_rows_follow_the_design_and_sink_sees_probe_and_epochs():
    sink = _Sink()
    ds = _ds()
    result = training.fit(_spec(cell="lstm", layers=2), ds, sink)
    assert np.array_equal(sink.probe[0], ds.val.x[:8]) and np.array_equal(
        sink.probe[1], ds.val.y[:8]
    )
    assert [r["epoch"] for r, _ in sink.epochs] == [1, 2] == [r["epoch"] for r in result.history]
    row = json.loads(json.dumps(result.history[-1], allow_nan=False))
    assert set(row) == {
        "epoch", "loss", "val_loss", "seconds", "lr", "grad_norm", "clipped_fraction",
        "spectral_radius", "spectral_radius_blocks", "gates", "step_factor", "memory_horizon",
    }  # fmt: skip
    assert set(row["gates"]) == set(row["step_factor"]) == {"rnn_0", "rnn_1"}
    assert isinstance(row["memory_horizon"], int)
    assert row["lr"] == 1e-3 and row["clipped_fraction"] == 0.0
    assert set(row["grad_norm"]) == {"global", "rnn_0", "rnn_1", "head"}
    for norms in row["grad_norm"].values():
        assert 0 < norms["mean"] <= norms["max"] and math.isfinite(norms["max"])
    assert set(row["spectral_radius_blocks"]["rnn_0"]) == {"i", "f", "c", "o"}
    for layer, radius in row["spectral_radius"].items():
        assert radius == max(row["spectral_radius_blocks"][layer].values()) > 0
    _, gtt = sink.epochs[-1]
    assert gtt["lags"] == list(range(T)) and gtt["epochs"] == [0, 1, 2]
    assert all(len(g) == T and all(v > 0 for v in g) for g in gtt["norms"])
    assert result.epochs_run == 2 and result.params == result.model.count_params()
    assert result.samples_per_second == pytest.approx(96 * 2 / result.train_seconds)
    assert result.device == {
        "name": "CPU",
        "gpu": False,
        "mixed_precision": False,
        "backend": "tensorflow",
    }


@pytest.mark.parametrize(("cell", "gates"), [("gru", {"z", "r", "h"}), ("rnn", {"h"})])
def test_gate_blocks_per_cell(cell, gates):
    result = training.fit(_spec(cell=cell, epochs=1), _ds())
    assert set(result.history[0]["spectral_radius_blocks"]["rnn_0"]) == gates


@pytest.mark.parametrize("layers", [1, 2])
def test_norms_equal_a_direct_gradient_computation(layers):
    # One full batch per epoch: the recorded norm is the gradient at the initial weights.
    spec = _spec(
        cell="lstm", layers=layers, epochs=1, batch_size=96, optimizer="sgd", learning_rate=0.01
    )
    ds = _ds()
    result = training.fit(spec, ds)
    assert result.wavefront == (layers > 1)  # on the CPU a stack trains as one loop
    row = result.history[0]
    # The direct computation uses separate Keras layers: it checks the wavefront too.
    model = training.build_model(spec.model, T, 1, spec.train.seed)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.reshape(model(ds.train.x), [-1]) - ds.train.y))
    grads = dict(
        zip(
            [v.path for v in model.trainable_weights],
            tape.gradient(loss, model.trainable_weights),
            strict=True,
        )
    )

    def norm(prefix):
        return math.sqrt(
            sum(float(tf.reduce_sum(g * g)) for p, g in grads.items() if p.startswith(prefix))
        )

    for name in [f"rnn_{i}" for i in range(layers)] + ["head"]:
        assert row["grad_norm"][name]["mean"] == pytest.approx(norm(name + "/"), rel=1e-4)
        assert row["grad_norm"][name]["max"] == pytest.approx(norm(name + "/"), rel=1e-4)
    assert row["grad_norm"]["global"]["max"] == pytest.approx(norm(""), rel=1e-4)


def test_gradients_through_time_match_per_sample_gradients():
    model = training.build_model(_spec().model, T, 1, seed=0)
    ds = _ds()
    x, y = ds.val.x[:3], ds.val.y[:3]
    got = training.make_gtt_probe(model, x, y)()
    per_sample = []
    for i in range(3):
        xi = tf.constant(x[i : i + 1])
        with tf.GradientTape() as tape:
            tape.watch(xi)
            loss = tf.square(tf.reshape(model(xi), []) - y[i])
        per_sample.append(np.linalg.norm(tape.gradient(loss, xi).numpy()[0], axis=1))
    expected = np.mean(per_sample, axis=0)[::-1]  # k = lag back from the last step
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_tiny_clipnorm_clips_every_step_and_bounds_the_update():
    spec = _spec(cell="lstm", epochs=1, optimizer="sgd", learning_rate=1.0, clipnorm=1e-6)
    before = training.build_model(spec.model, T, 1, spec.train.seed).get_weights()
    result = training.fit(spec, _ds())
    assert result.history[0]["clipped_fraction"] == 1.0
    moved = math.sqrt(
        sum(np.sum((a - b) ** 2) for a, b in zip(result.model.get_weights(), before, strict=True))
    )
    assert 0 < moved <= 3 * 1e-6 * 1.0001  # 3 steps of lr x clipnorm at most
    assert training.fit(spec.replace(clipnorm=None), _ds()).history[0]["clipped_fraction"] == 0.0


def test_absurd_sgd_learning_rate_diverges_keeping_rows():
    sink = _Sink()
    spec = _spec(cell="rnn", epochs=5, optimizer="sgd", learning_rate=1e3, patience=0)
    result = training.fit(spec, _ds(), sink)
    assert result.state == "diverged"
    assert 1 <= result.epochs_run < 5 and len(sink.epochs) == result.epochs_run
    last = result.history[-1]
    assert last["loss"] is None or last["val_loss"] is None
    text = json.dumps(result.history, allow_nan=False)  # raises on NaN
    assert "null" in text


def test_early_stopping_restores_the_best_weights():
    # Validation targets are the negated training targets: learning makes val_loss worse,
    # so the best epoch is the first and training stops after `patience` more.
    spec = _spec(cell="gru", epochs=10, patience=1, learning_rate=0.05)
    ds = _ds(val_sign=-1.0)
    result = training.fit(spec, ds)
    assert result.best_epoch == 1 and result.epochs_run == 2
    vals = [r["val_loss"] for r in result.history]
    assert vals[1] > vals[0]
    final = float(np.mean((training.predict(result.model, ds.val.x) - ds.val.y) ** 2))
    assert final == pytest.approx(vals[0], rel=1e-4)


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    result = training.fit(_spec(cell="lstm", epochs=1, dropout=0.1), _ds())
    path = tmp_path / "model.keras"
    training.save_model(result.model, path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no temp file left
    loaded = training.load_model(path)
    assert isinstance(loaded, training.InstrumentedModel)
    x = _ds().val.x
    a, b = training.predict(result.model, x), training.predict(loaded, x)
    assert a.shape == (32,) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)


def test_load_model_of_a_broken_file_is_a_user_error(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="train it again"):
        training.load_model(path)


def test_empty_split_is_a_data_error():
    ds = types.SimpleNamespace(train=_split(10, 1), val=_split(0, 2))
    with pytest.raises(DataError, match="no windows"):
        training.fit(_spec(), ds)


@pytest.fixture
def fake_gpu(monkeypatch):
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    calls = []
    monkeypatch.setattr(
        tf.config, "list_physical_devices", lambda kind=None: [gpu] if kind == "GPU" else []
    )
    monkeypatch.setattr(
        tf.config.experimental, "set_memory_growth", lambda d, on: calls.append((d.name, on))
    )
    yield calls
    keras.mixed_precision.set_global_policy("float32")


def test_setup_device_on_a_gpu(fake_gpu):
    info = training.setup_device(mixed_precision=True)
    assert fake_gpu == [("/physical_device:GPU:0", True)]
    assert info == {
        "name": "/physical_device:GPU:0",
        "gpu": True,
        "mixed_precision": True,
        "backend": "tensorflow",
    }
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    assert training.setup_device(mixed_precision=False)["mixed_precision"] is False
    assert keras.mixed_precision.global_policy().name == "float32"


def test_setup_device_on_the_cpu_ignores_mixed_precision():
    info = training.setup_device(mixed_precision=True)
    assert info == {"name": "CPU", "gpu": False, "mixed_precision": False, "backend": "tensorflow"}
    assert keras.mixed_precision.global_policy().name == "float32"


def test_loss_scaled_norms_are_unscaled():
    # mixed_float16 also runs (slowly) on the CPU: norms must match float32, not x 32768.
    spec = _spec(cell="lstm", epochs=1, batch_size=96, optimizer="sgd", learning_rate=1e-3)
    ref = training.fit(spec, _ds()).history[0]["grad_norm"]["global"]["max"]
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = training.build_model(spec.model, T, 1, seed=0)
        model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        model.fit(_ds().train.x, _ds().train.y, batch_size=96, epochs=1, verbose=0)
        norms, _ = model.read_grad_stats()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert norms["global"]["max"] == pytest.approx(ref, rel=0.05)
