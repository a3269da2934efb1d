"""Training with gradient diagnostics: an instrumented train_step, per-epoch rows, GTT probe.

The step records gradient norms from the gradients it already computed (no second
backward pass) into on-device accumulators; one callback reads and resets them once per
epoch, adds spectral radii and gradients through time, and hands the row to a Sink (the
run store). Definitions are those of DESIGN.md, "Gradient diagnostics".
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np
import tensorflow as tf

from core.config import RunSpec, TrainSpec
from core.errors import DataError, UserError
from core.models import GATES, build_model

_CELL_OF = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}


class Sink(Protocol):
    def on_probe(self, x: np.ndarray, y: np.ndarray) -> None: ...

    def on_epoch(self, row: dict, gtt: dict) -> None: ...


@dataclass
class TrainResult:
    model: Any
    state: str  # "done" | "diverged"
    epochs_run: int
    best_epoch: int  # 1-based epoch of the lowest finite val_loss; 0 if there was none
    train_seconds: float
    samples_per_second: float  # training windows x epochs_run / train_seconds
    params: int
    device: dict
    history: list[dict] = field(default_factory=list)
    gradients_through_time: dict = field(default_factory=dict)  # as sent to Sink.on_epoch


def _finite(value: Any) -> float | None:
    """JSON has no NaN/inf: a non-finite number is written as null."""
    value = float(value)
    return value if math.isfinite(value) else None


class _GradStats:
    """Per-epoch sum/max of gradient norms, kept in tf.Variables so a step never syncs.

    Slot 0 is the global norm, slots 1..L the layers; sums carry two more slots: the
    count of recorded steps and the count of steps whose global norm exceeded clipnorm.
    """

    def __init__(self, names: list[str], groups: list[list[int]], clipnorm: float | None):
        self.names = names
        self.groups = groups
        self.clipnorm = clipnorm
        n = len(names) + 1
        self.sums = tf.Variable(tf.zeros(n + 2), trainable=False, name="grad_norm_sums")
        self.maxes = tf.Variable(tf.zeros(n), trainable=False, name="grad_norm_maxes")

    def record(self, grads: list, optimizer: Any) -> list:
        """Accumulate norms (before clipping) and return the clipped gradients."""
        squares = [tf.reduce_sum(tf.square(tf.cast(g, tf.float32))) for g in grads]
        per_layer = [tf.add_n([squares[i] for i in group]) for group in self.groups]
        norms = tf.sqrt(tf.stack([tf.add_n(per_layer), *per_layer]))  # (L+1,), global first
        scaled_global, scale, counted = norms[0], None, tf.constant(1.0)
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            # Mixed precision scales the loss, hence every gradient: norms are linear in the
            # scale, and a step with non-finite scaled gradients is skipped by the optimizer,
            # so it is left out of the statistics too.
            scale = tf.cast(optimizer.scale_loss(tf.constant(1.0)), tf.float32)
            counted = tf.cast(tf.math.is_finite(scaled_global), tf.float32)
            norms = tf.where(counted > 0, norms / scale, tf.zeros_like(norms))
        clipped = tf.constant(0.0)
        if self.clipnorm is not None:
            clipped = tf.cast(norms[0] > self.clipnorm, tf.float32) * counted
            limit = self.clipnorm if scale is None else self.clipnorm * scale
            grads, _ = tf.clip_by_global_norm(grads, limit, use_norm=scaled_global)
        self.sums.assign_add(tf.concat([norms, tf.stack([counted, clipped])], axis=0))
        self.maxes.assign(tf.maximum(self.maxes, norms))
        return grads

    def read_and_reset(self) -> tuple[dict, float | None]:
        sums, maxes = self.sums.numpy(), self.maxes.numpy()
        self.sums.assign(tf.zeros_like(self.sums))
        self.maxes.assign(tf.zeros_like(self.maxes))
        steps, clipped = float(sums[-2]), float(sums[-1])
        out = {}
        for i, name in enumerate(["global", *self.names]):
            mean = sums[i] / steps if steps else float("nan")
            out[name] = {"mean": _finite(mean), "max": _finite(maxes[i])}
        return out, (_finite(clipped / steps) if steps else None)


@keras.saving.register_keras_serializable(package="gradlab")
class InstrumentedModel(keras.Model):
    """A functional model whose train_step records gradient norms and clips by global norm."""

    def compile(
        self, *args: Any, clipnorm: float | None = None, jit_compile: Any = "auto", **kwargs: Any
    ) -> None:
        super().compile(*args, jit_compile=False if jit_compile is True else jit_compile, **kwargs)
        if jit_compile is True:
            force_xla(self)
        # Group trainable variables by layer once, in Python; the step reuses the indices.
        index = {id(v): i for i, v in enumerate(self.trainable_weights)}
        names, groups = [], []
        for layer in self.layers:
            group = [index[id(v)] for v in layer.trainable_weights]
            if group:
                names.append(layer.name)
                groups.append(group)
        self._grad_stats = _GradStats(names, groups, clipnorm)

    def train_step(self, data: Any) -> dict:
        # Mirrors keras' own TensorFlowTrainer.train_step so losses equal plain fit's.
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            self._loss_tracker.update_state(loss, sample_weight=tf.shape(x)[0])
            scaled_loss = self.optimizer.scale_loss(loss)
        weights = self.trainable_weights
        grads = tape.gradient(scaled_loss, weights)
        grads = self._grad_stats.record(grads, self.optimizer)
        self.optimizer.apply_gradients(zip(grads, weights, strict=True))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def force_xla(model: keras.Model) -> None:
    """XLA for the model's train, test and predict steps, although op determinism is on.

    Keras turns jit_compile=True down whenever TensorFlow op determinism is enabled, because
    some XLA GPU kernels are not deterministic. We ask for XLA on the CPU only
    (compile_options), where it is: tests/test_training.py checks same seed, same rows.
    """
    model._jit_compile = True


def spectral_radii(model: keras.Model) -> tuple[dict, dict]:
    """Max |eigenvalue| per recurrent layer and per gate block of its recurrent kernel."""
    radius, blocks = {}, {}
    for layer in model.layers:
        cell = _CELL_OF.get(type(layer).__name__)
        if cell is None:
            continue
        kernel = keras.ops.convert_to_numpy(layer.cell.recurrent_kernel)  # (U, G*U)
        units = kernel.shape[0]
        per_gate = {}
        for j, gate in enumerate(GATES[cell]):
            block = kernel[:, j * units : (j + 1) * units].astype(np.float64)
            ok = np.all(np.isfinite(block))
            per_gate[gate] = float(np.max(np.abs(np.linalg.eigvals(block)))) if ok else None
        blocks[layer.name] = per_gate
        finite = [v for v in per_gate.values() if v is not None]
        radius[layer.name] = max(finite) if len(finite) == len(per_gate) else None
    return radius, blocks


def make_gtt_probe(model: keras.Model, x: np.ndarray, y: np.ndarray) -> Any:
    """A function returning g_k = mean_b ||dL_b/dx_{b,T-1-k}||_2, k = 0..T-1, as floats."""
    x_t = tf.constant(x, tf.float32)
    y_t = tf.constant(y.reshape(-1), tf.float32)

    @tf.function
    def _norms() -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            # training=False: dropout off, so the probe sees the model as it predicts.
            pred = tf.cast(tf.reshape(model(x_t, training=False), [-1]), tf.float32)
            # Sum of per-sample squared errors: sample b's loss depends only on x_b, so
            # row b of the gradient is dL_b/dx_b, unscaled by the batch size.
            total = tf.reduce_sum(tf.square(pred - y_t))
        grad = tape.gradient(total, x_t)  # (B, T, F)
        per_step = tf.reduce_mean(tf.norm(grad, axis=2), axis=0)  # (T,)
        return tf.reverse(per_step, axis=[0])  # index k = lag back from the last step

    return lambda: [_finite(v) for v in _norms().numpy()]


class EpochRecorder(keras.callbacks.Callback):
    """Builds one metrics row per epoch, probes gradients through time, flags divergence."""

    def __init__(self, probe: Any, lookback: int, sink: Sink | None = None):
        super().__init__()
        self.probe = probe
        self.sink = sink
        self.history: list[dict] = []
        self.gtt = {"lags": list(range(lookback)), "epochs": [], "norms": []}
        self.diverged = False
        self._t0 = 0.0

    def probe_now(self, epoch: int) -> None:
        self.gtt["epochs"].append(epoch)
        self.gtt["norms"].append(self.probe())

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        grad_norm, clipped = self.model._grad_stats.read_and_reset()
        radius, blocks = spectral_radii(self.model)
        self.probe_now(epoch + 1)
        row = {
            "epoch": epoch + 1,  # 1-based, matching the GTT epochs (0 = before training)
            "loss": _finite(logs.get("loss", float("nan"))),
            "val_loss": _finite(logs.get("val_loss", float("nan"))),
            "seconds": time.perf_counter() - self._t0,
            "lr": _lr(self.model.optimizer),
            "grad_norm": grad_norm,
            "clipped_fraction": clipped,
            "spectral_radius": radius,
            "spectral_radius_blocks": blocks,
        }
        self.history.append(row)
        if self.sink is not None:
            self.sink.on_epoch(row, self.gtt)
        if row["loss"] is None or row["val_loss"] is None:
            self.diverged = True
            self.model.stop_training = True


def _lr(optimizer: Any) -> float | None:
    # Through float32's shortest repr: 1e-3, not 0.0010000000474974513.
    return _finite(str(np.float32(keras.ops.convert_to_numpy(optimizer.learning_rate))))


def _optimizer(t: TrainSpec) -> keras.optimizers.Optimizer:
    classes = {
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }
    return classes[t.optimizer](learning_rate=t.learning_rate)


def _best_epoch(history: list[dict]) -> int:
    finite = [(r["val_loss"], r["epoch"]) for r in history if r["val_loss"] is not None]
    return min(finite)[1] if finite else 0


def _check_data(ds: Any) -> None:
    for split in (ds.train, ds.val):
        if len(split.x) == 0:
            raise DataError(
                "the training or validation split has no windows: use a longer date range "
                "or a shorter lookback"
            )


def fit(spec: RunSpec, ds: Any, sink: Sink | None = None) -> TrainResult:
    """Train one seeded model on ds.train, validate on ds.val; same spec+seed = same rows."""
    spec.validate()
    _check_data(ds)
    t = spec.train
    device = setup_device(t.mixed_precision)
    keras.utils.set_random_seed(t.seed)
    tf.config.experimental.enable_op_determinism()
    _, lookback, n_features = ds.train.x.shape
    model = build_model(spec.model, lookback, n_features, t.seed)
    model.compile(
        optimizer=_optimizer(t), loss="mse", clipnorm=t.clipnorm, **compile_options(device)
    )
    # The probe is the first validation windows: fixed across epochs, seeds and cells of
    # one dataset, never used for a weight update, and it leaves the test split untouched.
    probe_x, probe_y = ds.val.x[: t.probe_size], ds.val.y[: t.probe_size]
    if sink is not None:
        sink.on_probe(probe_x, probe_y)
    recorder = EpochRecorder(make_gtt_probe(model, probe_x, probe_y), lookback, sink)
    recorder.probe_now(0)
    callbacks: list = [recorder]
    if t.patience > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=t.patience, restore_best_weights=True
            )
        )
    start = time.perf_counter()
    model.fit(
        ds.train.x,
        ds.train.y,
        validation_data=(ds.val.x, ds.val.y),
        batch_size=t.batch_size,
        epochs=t.epochs,
        shuffle=True,  # seeded by set_random_seed above
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    # Predict on the plain path, as a model loaded from disk does: a saved run then predicts
    # bit for bit what it showed (XLA may round the last bit differently).
    model.jit_compile = False
    model.predict_function = None
    epochs_run = len(recorder.history)
    return TrainResult(
        model=model,
        state="diverged" if recorder.diverged else "done",
        epochs_run=epochs_run,
        best_epoch=_best_epoch(recorder.history),
        train_seconds=seconds,
        samples_per_second=len(ds.train.x) * epochs_run / seconds if seconds > 0 else 0.0,
        params=int(model.count_params()),
        device=device,
        history=recorder.history,
        gradients_through_time=recorder.gtt,
    )


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Scaled predictions, shape (N,), float64."""
    if len(x) == 0:
        return np.zeros(0, dtype=np.float64)
    out = model.predict(np.asarray(x, dtype=np.float32), batch_size=1024, verbose=0)
    return np.asarray(out, dtype=np.float64).reshape(-1)


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """model.save to a temp name beside path, then os.replace: never a half-written file."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")  # keras wants .keras
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a saved model with safe_mode=True (no arbitrary code); uncompiled, for predict."""
    try:
        return keras.saving.load_model(Path(path), safe_mode=True, compile=False)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"the saved model could not be loaded ({exc}): delete the run and train it again"
        ) from None


def device_info() -> dict:
    """{"name": "CPU" or the first GPU's name, "gpu": bool}."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return {"name": "CPU", "gpu": False}
    try:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name")
    except (ValueError, RuntimeError, TypeError):
        name = None
    return {"name": name or gpus[0].name, "gpu": True}


def compile_options(device: dict) -> dict:
    """Keras compile settings that bench/run.py measured faster on this kind of device.

    CPU: XLA fuses each step's many small gate ops, and 8 steps per call to the compiled
    function cut the per-step dispatch cost (docs/BENCHMARKS.md has the figures).
    GPU: none, because XLA would replace the fused cuDNN kernel with a slower generic loop.
    """
    if device.get("gpu"):
        return {}
    return {"jit_compile": True, "steps_per_execution": 8}


def setup_device(mixed_precision: bool) -> dict:
    """Memory growth on every GPU; mixed_float16 only on a GPU and only when asked."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # RuntimeError: GPUs already initialised in this process, the setting is fixed now.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    use_mixed = bool(gpus) and mixed_precision
    # Set either way so a process's policy always matches the spec it is training.
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mixed else "float32")
    return {**device_info(), "mixed_precision": use_mixed}
