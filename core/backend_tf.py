"""The TensorFlow half of training: the instrumented train step, the GTT probe, the device.

core/training.py imports this module when Keras runs on TensorFlow (the default and the
backend the image ships) and core/backend_jax.py otherwise; both offer the same names.
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python import pywrap_tfe  # set_seed: the kernel-cache flush

from core.gradstats import finite, layer_groups, read_and_reset, slots

BACKEND = "tensorflow"
# The per-epoch probe may read the weights from another thread while fit validates.
PROBE_BESIDE_VALIDATION = True


class _GradStats:
    """Per-epoch sum/max of gradient norms, kept in tf.Variables so a step never syncs."""

    def __init__(self, names: list[str], groups: list[list[int]], clipnorm: float | None):
        self.names = names
        self.groups = groups
        self.clipnorm = clipnorm
        n_sums, n_maxes = slots(len(names))
        self.sums = tf.Variable(tf.zeros(n_sums), trainable=False, name="grad_norm_sums")
        self.maxes = tf.Variable(tf.zeros(n_maxes), trainable=False, name="grad_norm_maxes")

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
        return read_and_reset(self.sums, self.maxes, self.names)


@keras.saving.register_keras_serializable(package="gradlab")
class InstrumentedModel(keras.Model):
    """A functional model whose train_step records gradient norms and clips by global norm."""

    def compile(
        self, *args: Any, clipnorm: float | None = None, jit_compile: Any = "auto", **kwargs: Any
    ) -> None:
        super().compile(*args, jit_compile=False if jit_compile is True else jit_compile, **kwargs)
        if jit_compile is True:
            force_xla(self)
        self._grad_stats = _GradStats(*layer_groups(self), clipnorm)

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

    def read_grad_stats(self) -> tuple[dict, float | None]:
        """This epoch's norms and clipped fraction; resets the accumulators for the next."""
        return self._grad_stats.read_and_reset()


def force_xla(model: keras.Model) -> None:
    """XLA for the model's train, test and predict steps, although op determinism is on.

    Keras turns jit_compile=True down whenever TensorFlow op determinism is enabled, because
    some XLA GPU kernels are not deterministic. We ask for XLA on the CPU only
    (compile_options), where it is: tests/test_training.py checks same seed, same rows.
    """
    model._jit_compile = True


def make_gtt_probe(model: keras.Model, x: np.ndarray, y: np.ndarray) -> Any:
    """A function returning g_k = mean_b ||dL_b/dx_{b,T-1-k}||_2, k = 0..T-1, as floats."""
    norms = _probe_function(model)
    x_t = tf.constant(x, tf.float32)
    y_t = tf.constant(y.reshape(-1), tf.float32)
    return lambda: [finite(v) for v in norms(x_t, y_t).numpy()]


def _probe_function(model: keras.Model) -> Any:
    """One traced probe per model (and XLA setting), taking the windows as arguments: a warm
    worker's reused model (core/warm_models.py) probes without tracing or compiling again."""
    jit = getattr(model, "jit_compile", False) is True
    cached = getattr(model, "_gradlab_probe", None)
    if cached is not None and cached[0] == jit:
        return cached[1]

    # Under XLA when the model trains under XLA (the CPU): in a run, 23-39 -> 15-17 ms.
    @tf.function(jit_compile=jit, reduce_retracing=True)
    def _norms(x_t: tf.Tensor, y_t: tf.Tensor) -> tf.Tensor:
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

    object.__setattr__(model, "_gradlab_probe", (jit, _norms))  # untracked by Keras
    return _norms


def fit_input(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> dict:
    """model.fit's training data: batches reshuffled every epoch from the run's seed,
    through a tf.data pipeline with tf.data's autotuning off.

    Given arrays, Keras builds a pipeline ending in prefetch(AUTOTUNE). On a 2-core CPU its
    autotuner left the training thread idle for ~1.3 s in one epoch of three, for every
    model alike (docs/BENCHMARKS.md, "The autotune stall"); without it, no stalls.
    """
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    return {"x": _untuned(ds), "shuffle": False}  # the dataset reshuffles itself


def val_input(x: np.ndarray, y: np.ndarray, batch_size: int) -> Any:
    """model.fit's validation_data, in order, through the same untuned pipeline."""
    return _untuned(tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size))


def predict_input(x: np.ndarray, batch_size: int) -> dict:
    """model.predict's data, in order, through the same untuned pipeline."""
    return {"x": _untuned(tf.data.Dataset.from_tensor_slices(x).batch(batch_size))}


def _untuned(ds: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def make_deterministic() -> None:
    """Same spec + seed = same rows: TensorFlow's deterministic kernels (after the seed)."""
    tf.config.experimental.enable_op_determinism()


def set_seed(seed: int) -> None:
    """keras.utils.set_random_seed(seed) (Python, NumPy, TensorFlow's global seed, Keras'
    SeedGenerator), less the flush of TensorFlow's eager kernel cache.

    tf.random.set_seed clears that cache to restart stateful random kernels, which no step of
    ours runs: Keras 3 draws through stateless ops seeded by SeedGenerator variables, and
    tf.data's shuffle takes its seeds as inputs. The flush also drops every instantiated
    function, so a warm worker's compiled model paid for instantiating its train, test and
    predict functions again at each run's first call: 0.4 s of the default run's first epoch
    on the quiet 2-core box (docs/BENCHMARKS.md, "Time to result"). tests/test_warm_models.py
    checks that a reused model still computes a new one's rows bit for bit.
    """
    clear = getattr(pywrap_tfe, "TFE_ContextClearCaches", None)
    if clear is None:  # another TensorFlow: keep its own seeding, flush and all
        keras.utils.set_random_seed(seed)
        return
    pywrap_tfe.TFE_ContextClearCaches = _keep_cache
    try:
        keras.utils.set_random_seed(seed)
    finally:
        pywrap_tfe.TFE_ContextClearCaches = clear


def _keep_cache(handle: Any) -> None:
    """Stands in for TFE_ContextClearCaches while set_seed seeds."""


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
