"""Training with gradient diagnostics: an instrumented train_step, per-epoch rows, GTT probe.

The step records gradient norms from the gradients it already computed (no second
backward pass) into on-device accumulators; one callback reads and resets them once per
epoch, adds spectral radii and gradients through time, and hands the row to a Sink (the
run store). Definitions: docs/ARCHITECTURE.md, "Gradient diagnostics".

The step, the probe and the device set-up depend on Keras' backend: core/backend_tf.py
(TensorFlow, the default) or core/backend_jax.py (KERAS_BACKEND=jax), which offer the same
names; this module picks one at import and is the same for both.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np

from core import (
    compile_choice,
    warm_models,
    wavefront,  # noqa: F401  (registers WavefrontCells before any model loads)
)
from core import gates as _gates
from core.atomic import atomic_path
from core.cells import CELL_OF as _CELL_OF
from core.config import RunSpec, TrainSpec
from core.errors import DataError, UserError
from core.fit_progress import BatchProgress, Clock, Progress
from core.gradstats import finite as _finite
from core.gradstats import weight_owners
from core.models import GATES, build_model, use_wavefront
from core.warm_models import ModelCache

if keras.backend.backend() == "jax":
    from core import backend_jax as _backend
else:
    from core import backend_tf as _backend  # type: ignore[no-redef]  # one of the two

# The backend's half, under the names the rest of the project (and bench/) uses.
BACKEND = _backend.BACKEND
InstrumentedModel = _backend.InstrumentedModel
make_gtt_probe = _backend.make_gtt_probe
device_info = _backend.device_info
compile_options = _backend.compile_options
fit_input = _backend.fit_input
val_input = _backend.val_input


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
    wavefront: bool = False  # the recurrent layers ran as one loop (core/wavefront.py)
    history: list[dict] = field(default_factory=list)
    gradients_through_time: dict = field(default_factory=dict)  # as sent, plus "kept"
    kept_gates: dict = field(default_factory=dict)  # core.gates.measure of the kept weights
    initial_gates: dict = field(default_factory=dict)  # the same before the first update
    memory_horizon: int | None = None  # of the kept weights' gradients through time
    # Wall seconds of fit's phases (build, probe, first_epoch, epochs, kept_probe): where the
    # time went, as Results shows it; samples/s of epochs 2.. (None: one epoch ran).
    phases: dict = field(default_factory=dict)
    steady_samples_per_second: float | None = None
    compile: dict = field(default_factory=dict)  # the compile options chosen, and why


def spectral_radii(model: keras.Model) -> tuple[dict, dict]:
    """Max |eigenvalue| per recurrent layer and per gate block of its recurrent kernel."""
    blocks: dict[str, dict[str, np.ndarray]] = {}
    for name, owner in weight_owners(model):  # layers, or the cells of a wavefront stack
        cell = _CELL_OF.get(type(owner).__name__.removesuffix("Cell"))
        if cell is None:
            continue
        kernel = keras.ops.convert_to_numpy(getattr(owner, "cell", owner).recurrent_kernel)
        units = kernel.shape[0]  # kernel: (U, G*U), gate blocks side by side
        blocks[name] = {
            g: kernel[:, j * units : (j + 1) * units] for j, g in enumerate(GATES[cell])
        }
    radii = iter(_max_abs_eigenvalues([m for gates in blocks.values() for m in gates.values()]))
    per_gate = {name: {g: next(radii) for g in gates} for name, gates in blocks.items()}
    radius = {}
    for name, values in per_gate.items():
        finite = [v for v in values.values() if v is not None]
        radius[name] = max(finite) if len(finite) == len(values) else None
    return radius, per_gate


def _max_abs_eigenvalues(matrices: list[np.ndarray]) -> list[float | None]:
    """Spectral radius of each square matrix, None where it holds a NaN or inf, from one
    batched LAPACK call (8 blocks of 64 x 64: 6-7 ms; one by one: 7-11 ms)."""
    if not matrices:
        return []
    stack = np.stack(matrices).astype(np.float64)
    ok = np.all(np.isfinite(stack), axis=(1, 2))
    stack[~ok] = 0.0
    radii = np.max(np.abs(np.linalg.eigvals(stack)), axis=1)
    return [float(r) if good else None for r, good in zip(radii, ok, strict=True)]


_BESIDE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gradlab-recorder")


class EpochRecorder(keras.callbacks.Callback):
    """Builds one metrics row per epoch, probes gradients through time, flags divergence."""

    def __init__(
        self, probe: Any, lookback: int, sink: Sink | None = None, probe_x: Any = None
    ) -> None:
        super().__init__()
        self.probe = probe
        self.probe_x = probe_x  # the probe windows, for gate dynamics (None: not recorded)
        self.sink = sink
        self.history: list[dict] = []
        self.gtt: dict[str, Any] = {"lags": list(range(lookback)), "epochs": [], "norms": []}
        self.diverged = False
        self._t0 = 0.0
        self._measuring: Future | None = None  # probe + radii of the epoch's final weights

    def probe_now(self, epoch: int, norms: list | None = None) -> None:
        """Record gradients through time after `epoch` (norms: already probed, or probe now)."""
        self.gtt["epochs"].append(epoch)
        self.gtt["norms"].append(self.probe() if norms is None else norms)

    def _measure(self) -> tuple[list, tuple[dict, dict], dict | None]:
        return self.probe(), spectral_radii(self.model), self.gates()

    def gates(self) -> dict | None:
        """Gate means and step factor per recurrent layer on the probe (core/gates.py)."""
        return None if self.probe_x is None else _gates.measure(self.model, self.probe_x)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()
        self._measuring = None

    def on_test_begin(self, logs: dict | None = None) -> None:
        # fit validates after the epoch's last update, and validation changes no weight: the
        # probe and the eigenproblems run beside it, not after it (25 ms an epoch hidden).
        if self._measuring is None and self._t0 and _backend.PROBE_BESIDE_VALIDATION:
            self._measuring = _BESIDE.submit(self._measure)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        grad_norm, clipped = self.model.read_grad_stats()
        measuring, self._measuring = self._measuring, None
        probed, (radius, blocks), gates = measuring.result() if measuring else self._measure()
        self.probe_now(epoch + 1, probed)
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
            "memory_horizon": _gates.memory_horizon(probed),
        }
        if gates is not None:
            row["gates"] = {
                n: {k: v for k, v in g.items() if k != "step_factor"} for n, g in gates.items()
            }
            row["step_factor"] = {n: g["step_factor"] for n, g in gates.items()}
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


def fit(
    spec: RunSpec, ds: Any, sink: Sink | None = None, models: ModelCache | None = None
) -> TrainResult:
    """Train one seeded model on ds.train, validate on ds.val; same spec+seed = same rows.

    models: a warm worker's compiled models (core/warm_models.py); a run of an architecture
    it holds reuses that model's traced steps, reset to this run's start."""
    spec.validate()
    _check_data(ds)
    t = spec.train
    device = setup_device(t.mixed_precision)
    _backend.set_seed(t.seed)  # keeps a warm worker's compiled functions instantiated
    _backend.make_deterministic()
    _, lookback, n_features = ds.train.x.shape
    wave = use_wavefront(spec.model, gpu=bool(device.get("gpu")))
    clock = Clock(sink)
    clock.phase("build", "building the model")
    warm = models is not None and warm_models.is_prewarmed(spec)
    chosen = compile_choice.choose(spec, len(ds.train.x), compile_options(device), warm=warm)
    model = _compiled_model(spec, (lookback, n_features), wave, chosen, models)
    clock.phase("probe", "probing gradients before training")
    # The probe is the first validation windows: fixed across epochs, seeds and cells of
    # one dataset, never used for a weight update, and it leaves the test split untouched.
    probe_x, probe_y = ds.val.x[: t.probe_size], ds.val.y[: t.probe_size]
    if sink is not None:
        sink.on_probe(probe_x, probe_y)
    recorder = EpochRecorder(make_gtt_probe(model, probe_x, probe_y), lookback, sink, probe_x)
    recorder.probe_now(0)
    initial_gates = _gates.measure(model, probe_x)  # the callback has no model before fit
    steps = -(-len(ds.train.x) // t.batch_size)
    progress = BatchProgress if hasattr(sink, "on_batch") else Progress
    callbacks: list = [recorder, progress(clock, steps, chosen["options"])]
    if t.patience > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=t.patience, restore_best_weights=True
            )
        )
    start = time.perf_counter()
    model.fit(
        **fit_input(ds.train.x, ds.train.y, t.batch_size, t.seed),  # reshuffled every epoch
        validation_data=val_input(ds.val.x, ds.val.y, t.batch_size),
        epochs=t.epochs,
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    clock.phase("kept_probe", "probing the kept weights")
    kept = _kept(recorder, t.patience)
    clock.stop()
    # Predict on the plain path, as a model loaded from disk does: a saved run then predicts
    # bit for bit what it showed (XLA may round the last bit differently).
    if BACKEND == "tensorflow":  # under JAX, a loaded model predicts through XLA too
        model.jit_compile = False
        # traced plain by an earlier run of this model in a warm worker, or None: trace anew
        model.predict_function = getattr(model, "_gradlab_plain_predict", None)
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
        wavefront=wave,
        history=recorder.history,
        gradients_through_time=recorder.gtt,
        kept_gates=kept["gates"],
        initial_gates=initial_gates,
        memory_horizon=kept["memory_horizon"],
        phases=clock.seconds,
        steady_samples_per_second=_steady(recorder.history, len(ds.train.x)),
        compile=chosen,
    )


def _compiled_model(
    spec: RunSpec, shape: tuple[int, int], wave: bool, chosen: dict, models: ModelCache | None
) -> keras.Model:
    """A compiled model at this run's start: new, or models' one of the same architecture
    reset to it (its steps already traced). chosen["reused"] says which."""
    t = spec.train

    def build() -> keras.Model:
        return build_model(spec.model, *shape, t.seed, wavefront=wave)

    if models is None:
        model, chosen["reused"] = build(), False
    else:
        key = warm_models.arch_key(spec, *shape, chosen["options"], wave)
        model, chosen["reused"] = models.take(key, build, _reset_to(t, models, key, build))
        # A new model is its seed's start: a later run of this seed assigns it, unbuilt.
        models.start((key, "weights", t.seed), lambda: _values(model.variables))
    if not chosen["reused"]:
        model.compile(optimizer=_optimizer(t), loss="mse", clipnorm=t.clipnorm, **chosen["options"])
    elif chosen["options"].get("jit_compile"):
        force_xla(model)  # evaluation turned it off to predict on the plain path
    return model


def _reset_to(t: TrainSpec, models: ModelCache, key: tuple, build: Any) -> Any:
    def reset(model: keras.Model) -> None:
        """model's variables (weights, dropout seed states) and optimizer state as a new
        model's with the run's seed would be at the start of training, without tracing
        anything anew; the values are built once per seed and learning rate (models.start)."""
        weights = models.start((key, "weights", t.seed), lambda: _values(build().variables))
        for mine, value in zip(model.variables, weights, strict=True):
            mine.assign(value)
        state = models.start((key, "optimizer", t.learning_rate), lambda: _optimizer_start(model))
        for mine, value in zip(model.optimizer.variables, state, strict=True):
            mine.assign(value)
        model.read_grad_stats()  # zero the accumulators
        model.stop_training = False

    def _optimizer_start(model: keras.Model) -> list:
        start = _optimizer(t)  # its state depends on the variables' shapes, not their values
        start.build(model.trainable_variables)
        return _values(start.variables)

    return reset


def _values(variables: list) -> list:
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def _steady(history: list[dict], n_train: int) -> float | None:
    """Samples/s of the epochs after the first (whose time includes compiling the step)."""
    later = [r["seconds"] for r in history[1:] if isinstance(r.get("seconds"), (int, float))]
    return n_train * len(later) / sum(later) if later and sum(later) > 0 else None


def _kept(recorder: EpochRecorder, patience: int) -> dict:
    """Probe the weights the model keeps: EarlyStopping (patience > 0) has restored the best
    epoch's, which the last epoch's row does not show. Adds gtt["kept"]."""
    best = _best_epoch(recorder.history)
    epoch = best if patience > 0 and best else len(recorder.history)
    norms = recorder.probe() if recorder.history else recorder.gtt["norms"][0]
    horizon = _gates.memory_horizon(norms)
    recorder.gtt["kept"] = {"epoch": epoch, "norms": norms, "memory_horizon": horizon}
    return {"gates": recorder.gates() or {}, "memory_horizon": horizon}


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Scaled predictions, shape (N,), float64."""
    if len(x) == 0:
        return np.zeros(0, dtype=np.float64)
    data = _backend.predict_input(np.asarray(x, dtype=np.float32), batch_size=1024)
    out = model.predict(**data, verbose=0)
    if not getattr(model, "jit_compile", False):  # a warm worker's next run predicts with it
        object.__setattr__(model, "_gradlab_plain_predict", model.predict_function)
    return np.asarray(out, dtype=np.float64).reshape(-1)


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """model.save to a temp name beside path, then os.replace: never a half-written file."""
    with atomic_path(Path(path)) as tmp:  # the temp ends in .keras, as keras wants
        model.save(tmp)


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a saved model with safe_mode=True (no arbitrary code); uncompiled, for predict."""
    try:
        return keras.saving.load_model(Path(path), safe_mode=True, compile=False)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"the saved model could not be loaded ({exc}): delete the run and train it again"
        ) from None


def force_xla(model: keras.Model) -> None:
    """XLA for a model's steps although op determinism is on (TensorFlow; JAX always is)."""
    if BACKEND == "tensorflow":
        _backend.force_xla(model)  # type: ignore[attr-defined]  # backend_tf only


def setup_device(mixed_precision: bool) -> dict:
    """The device the backend trains on, with memory growth and the precision policy set:
    {"name", "gpu", "mixed_precision", "backend"} (mixed precision only on a GPU, if asked)."""
    return {**_backend.setup_device(mixed_precision), "backend": BACKEND}
