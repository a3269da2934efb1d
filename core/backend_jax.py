"""The JAX half of training: the same instrumented step and GTT probe as backend_tf.py.

Used when KERAS_BACKEND=jax, so the same models train and are measured on a machine that
has JAX but no TensorFlow (a GPU box, say). JAX's train step is a pure function of the
state, so the norm accumulators are a keras Metric: Keras threads metric variables through
the compiled step and writes them back to the model between epochs.
Mixed precision is not offered here (setup_device keeps float32 and records that).
"""

from __future__ import annotations

import itertools
import os
from typing import Any

# Deterministic GPU kernels: read when JAX starts its GPU backend, so set before any use.
if "xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true"
    ).strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from core.gradstats import finite, layer_groups, read_and_reset, slots  # noqa: E402

BACKEND = "jax"
# Not here: Keras' JAX trainer donates the weights' buffers to each compiled step, so a
# thread reading them during validation can meet a freed one ("Array has been deleted").
PROBE_BESIDE_VALIDATION = False
# Train steps per device call (compile's steps_per_execution): see InstrumentedModel's
# make_train_function. Per-batch progress is then told every this many batches.
SCAN_STEPS = 32


class GradNormStats(keras.metrics.Metric):
    """Sums and maxes of gradient norms over an epoch, as metric variables.

    Not a metric users see: result() is empty, so the compiled step returns nothing more
    per step, and reset_state() does nothing, because fit() resets metrics when it
    validates, before on_epoch_end reads these; read_and_reset() is the reset.
    """

    def __init__(self, names: list[str], name: str = "gradlab_grad_norms", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.names = names
        n_sums, n_maxes = slots(len(names))
        self.sums = self.add_variable(shape=(n_sums,), initializer="zeros", name="sums")
        self.maxes = self.add_variable(shape=(n_maxes,), initializer="zeros", name="maxes")

    def update_state(self, norms: Any, clipped: Any) -> None:
        step = jnp.concatenate([norms, jnp.stack([jnp.float32(1.0), clipped])])
        self.sums.assign(self.sums.value + step)
        self.maxes.assign(jnp.maximum(self.maxes.value, norms))

    def result(self) -> dict:
        return {}

    def reset_state(self) -> None:
        pass

    def read_and_reset(self) -> tuple[dict, float | None]:
        """Between epochs fit() has put the step's state back into these variables."""
        return read_and_reset(self.sums, self.maxes, self.names)


@keras.saving.register_keras_serializable(package="gradlab")
class InstrumentedModel(keras.Model):
    """A functional model whose train_step records gradient norms and clips by global norm."""

    def compile(
        self, *args: Any, clipnorm: float | None = None, jit_compile: Any = "auto", **kwargs: Any
    ) -> None:
        super().compile(*args, jit_compile=jit_compile, **kwargs)
        names, self._norm_groups = layer_groups(self)
        self._clipnorm = clipnorm
        self._grad_norms = GradNormStats(names)

    @property
    def metrics(self) -> list:
        # Keras 3.15 already lists a Metric set as an attribute; listing it twice put its
        # variables twice into the step's state, and a scan cannot donate one buffer twice.
        extra, found = getattr(self, "_grad_norms", None), super().metrics
        return found if extra is None or any(m is extra for m in found) else [*found, extra]

    def _norms_and_clip(self, grads: list) -> tuple[Any, Any, list]:
        squares = [jnp.sum(jnp.square(g.astype(jnp.float32))) for g in grads]
        per_layer = [sum(squares[i] for i in group) for group in self._norm_groups]
        norms = jnp.sqrt(jnp.stack([sum(per_layer), *per_layer]))  # (L+1,), global first
        clipped = jnp.float32(0.0)
        if self._clipnorm is not None:
            # As tf.clip_by_global_norm: scale every gradient by min(1, clipnorm / global).
            clipped = (norms[0] > self._clipnorm).astype(jnp.float32)
            scale = jnp.minimum(1.0, self._clipnorm / norms[0])
            grads = [g * scale.astype(g.dtype) for g in grads]
        return norms, clipped, grads

    def _record(self, metrics_vars: list, norms: Any, clipped: Any) -> list:
        mapping = list(zip(self.metrics_variables, metrics_vars, strict=True))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            self._grad_norms.update_state(norms, clipped)
        out = []
        for ref, value in mapping:
            new = scope.get_current_value(ref)
            out.append(value if new is None else new)
        return out

    def train_step(self, state: tuple, data: Any) -> tuple[dict, tuple]:
        # Mirrors keras' own JAXTrainer.train_step, plus the norms and the clipping.
        trainable, non_trainable, optimizer_vars, metrics_vars = state
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (_, aux), grads = grad_fn(
            trainable,
            non_trainable,
            metrics_vars,
            x,
            y,
            sample_weight,
            training=True,
            optimizer_variables=optimizer_vars,
        )
        unscaled_loss, y_pred, non_trainable, metrics_vars = aux
        norms, clipped, grads = self._norms_and_clip(grads)
        trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads, trainable)
        metrics_vars = self._record(metrics_vars, norms, clipped)
        logs, metrics_vars = self._update_metrics_variables(
            metrics_vars, unscaled_loss, x, y, y_pred, sample_weight
        )
        return logs, (trainable, non_trainable, optimizer_vars, metrics_vars)

    def make_train_function(self, force: bool = False) -> None:
        """Several train steps per device call. Keras' JAX trainer makes one jitted call per
        batch even with steps_per_execution > 1 (a Python loop over calls), and on a GPU each
        call's host work outlasts the step (bench/gpu.py: plain Keras reached 0.46 of torch's
        cuDNN loop). Here a group of same-shape batches runs as one lax.scan of train_step:
        the same step, traced once, the state carried on the device. A group of one (the
        smaller last batch) takes the single step. Every epoch splits the same way, so a fit
        compiles at most two scan lengths."""
        if getattr(self, "train_function", None) is not None and not force:
            return
        super().make_train_function(force=True)
        if self.steps_per_execution <= 1 or self.run_eagerly or not self.jit_compile:
            return
        one = jax.jit(self.train_step, donate_argnums=0)
        many = jax.jit(self._scan_steps, donate_argnums=0)
        group = self.steps_per_execution

        def train_function(state: tuple, iterator: Any) -> tuple[dict, tuple]:
            batches = [next(iterator), *itertools.islice(iterator, group - 1)]
            logs: dict = {}
            for same in _same_shape_runs(batches):
                if len(same) == 1:
                    logs, state = one(state, same[0])
                else:
                    logs, state = many(state, same)
            return logs, state

        self.train_function = train_function

    def _scan_steps(self, state: tuple, batches: list) -> tuple[dict, tuple]:
        stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *batches)
        # scan needs the carry's tree to match exactly: lists in, lists out.
        state = tuple(list(part) for part in state)

        def body(carry: tuple, data: Any) -> tuple[tuple, dict]:
            logs, carry = self.train_step(carry, data)
            return tuple(list(part) for part in carry), logs

        state, logs = jax.lax.scan(body, state, stacked)
        return jax.tree.map(lambda v: v[-1], logs), state  # the last step's, as Keras logs

    def read_grad_stats(self) -> tuple[dict, float | None]:
        """This epoch's norms and clipped fraction; resets the accumulators for the next."""
        return self._grad_norms.read_and_reset()


def _same_shape_runs(batches: list) -> list[list]:
    """Consecutive batches grouped while their arrays' shapes stay the same."""
    runs: list[list] = []
    shapes = None
    for batch in batches:
        now = jax.tree.map(np.shape, batch)
        if runs and now == shapes:
            runs[-1].append(batch)
        else:
            runs.append([batch])
            shapes = now
    return runs


def make_gtt_probe(model: keras.Model, x: np.ndarray, y: np.ndarray) -> Any:
    """A function returning g_k = mean_b ||dL_b/dx_{b,T-1-k}||_2, k = 0..T-1, as floats."""
    x_j = jnp.asarray(x, jnp.float32)
    y_j = jnp.asarray(np.reshape(y, -1), jnp.float32)

    def total(x_in: Any, trainable: list, non_trainable: list) -> Any:
        # training=False: dropout off. Sum of per-sample squared errors, so row b of the
        # gradient is dL_b/dx_b, unscaled by the batch size (as in backend_tf).
        pred, _ = model.stateless_call(trainable, non_trainable, x_in, training=False)
        return jnp.sum(jnp.square(jnp.reshape(pred, (-1,)).astype(jnp.float32) - y_j))

    @jax.jit
    def norms(trainable: list, non_trainable: list) -> Any:
        grad = jax.grad(total)(x_j, trainable, non_trainable)  # (B, T, F)
        per_step = jnp.mean(jnp.linalg.norm(grad, axis=2), axis=0)  # (T,)
        return per_step[::-1]  # index k = lag back from the last step

    def probe() -> list:
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        return [finite(v) for v in np.asarray(norms(trainable, non_trainable))]

    return probe


def fit_input(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> dict:
    """model.fit's training data: the arrays, which Keras batches and shuffles in numpy
    under JAX (seeded by keras.utils.set_random_seed); no tf.data, so no autotune stall."""
    return {"x": x, "y": y, "batch_size": batch_size, "shuffle": True}


def val_input(x: np.ndarray, y: np.ndarray, batch_size: int) -> Any:
    """model.fit's validation_data: the arrays, batched like the training data."""
    return (x, y)


def predict_input(x: np.ndarray, batch_size: int) -> dict:
    """model.predict's data: the array and its batch size."""
    return {"x": x, "batch_size": batch_size}


def set_seed(seed: int) -> None:
    """Python, NumPy and Keras' seeds (keras.utils.set_random_seed)."""
    keras.utils.set_random_seed(seed)


def make_deterministic() -> None:
    """Nothing to switch on: a seeded JAX program on the CPU repeats bit for bit, and
    XLA_FLAGS (top of this module) asks the GPU for deterministic kernels."""


def device_info() -> dict:
    """{"name": "CPU" or the first GPU's name, "gpu": bool}."""
    device = jax.devices()[0]
    if device.platform != "gpu":
        return {"name": "CPU", "gpu": False}
    return {"name": str(device.device_kind), "gpu": True}


def compile_options(device: dict) -> dict:
    """JAX compiles every step with XLA already; steps_per_execution groups SCAN_STEPS
    batches into one device call (InstrumentedModel.make_train_function)."""
    return {"steps_per_execution": SCAN_STEPS}


def setup_device(mixed_precision: bool) -> dict:
    """float32 always: the JAX step does not unscale mixed-precision gradient norms."""
    keras.mixed_precision.set_global_policy("float32")
    return {**device_info(), "mixed_precision": False}
