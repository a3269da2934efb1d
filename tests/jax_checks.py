"""Checks of the JAX train step, run by tests/test_backend_jax.py in a KERAS_BACKEND=jax child.

Keras picks its backend once per process, and the test process runs on TensorFlow, so this
script runs apart and prints one JSON object of findings for the test to judge. TensorFlow
is made unimportable first, as on a GPU machine that has JAX but no TensorFlow.
Usage: KERAS_BACKEND=jax python tests/jax_checks.py STORE_DIR [TF_MODEL.keras INPUTS.npy]
"""

from __future__ import annotations

import importlib.abc
import json
import math
import os
import sys
import types
from pathlib import Path


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("tensorflow is blocked in this check")


sys.meta_path.insert(0, _NoTensorFlow())
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from core import cli, training  # noqa: E402
from core.config import RunSpec  # noqa: E402

T = 6


def _split(n: int, seed: int) -> types.SimpleNamespace:
    x = np.random.default_rng(seed).normal(size=(n, T, 1)).astype(np.float32)
    return types.SimpleNamespace(x=x, y=x[:, -1, 0].copy())


def _ds() -> types.SimpleNamespace:
    return types.SimpleNamespace(train=_split(96, 1), val=_split(32, 2))


def _spec(**changes: object) -> RunSpec:
    base = {"units": 4, "epochs": 2, "batch_size": 32, "lookback": T, "probe_size": 8}
    return RunSpec().replace(**{**base, **changes})


def _rows(result: training.TrainResult) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in result.history]


def determinism() -> dict:
    spec = _spec(cell="gru", layers=2, dropout=0.2)
    a, b = training.fit(spec, _ds()), training.fit(spec, _ds())
    other = training.fit(spec.replace(seed=1), _ds())
    return {
        "same_rows": _rows(a) == _rows(b),
        "same_gtt": a.gradients_through_time == b.gradients_through_time,
        "other_seed_differs": _rows(other) != _rows(a),
        "row": json.loads(json.dumps(a.history[-1], allow_nan=False)),
        "gtt": a.gradients_through_time,
        "device": a.device,
    }


def direct_norms() -> dict:
    """Recorded norms of one full-batch epoch vs jax.grad of the loss at the initial weights
    of the same network built as separate layers (training ran it as a wavefront on a CPU)."""
    spec = _spec(
        cell="lstm", layers=2, epochs=1, batch_size=96, optimizer="sgd", learning_rate=0.01
    )
    ds = _ds()
    result = training.fit(spec, ds)
    row = result.history[0]
    model = training.build_model(spec.model, T, 1, spec.train.seed)
    names = [v.path for v in model.trainable_variables]

    def loss(weights: list) -> jax.Array:
        pred, _ = model.stateless_call(weights, [v.value for v in model.non_trainable_variables],
                                       ds.train.x)  # fmt: skip
        return jnp.mean(jnp.square(jnp.reshape(pred, (-1,)) - ds.train.y))

    grads = jax.grad(loss)([v.value for v in model.trainable_variables])

    def norm(prefix: str) -> float:
        return math.sqrt(sum(float(jnp.sum(g * g)) for p, g in zip(names, grads, strict=True)
                             if p.startswith(prefix)))  # fmt: skip

    owners = ("rnn_0", "rnn_1", "head")
    return {"recorded": row["grad_norm"], "direct": {n: norm(n + "/") for n in owners}
            | {"global": norm("")}, "wavefront": result.wavefront}  # fmt: skip


def gtt_vs_per_sample() -> dict:
    model = training.build_model(_spec().model, T, 1, seed=0)
    x, y = _ds().val.x[:3], _ds().val.y[:3]
    got = training.make_gtt_probe(model, x, y)()

    def one(xi: jax.Array, yi: jax.Array) -> jax.Array:
        pred = model(xi[None])
        return jnp.square(jnp.reshape(pred, ()) - yi)

    per_sample = [np.linalg.norm(np.asarray(jax.grad(one)(x[i], y[i])), axis=1) for i in range(3)]
    return {"probe": got, "expected": np.mean(per_sample, axis=0)[::-1].tolist()}


def clipping() -> dict:
    tiny = training.fit(_spec(clipnorm=1e-6, epochs=1), _ds()).history[0]["clipped_fraction"]
    none = training.fit(_spec(epochs=1), _ds()).history[0]["clipped_fraction"]
    return {"tiny": tiny, "none": none}


def save_load(store: Path) -> dict:
    result = training.fit(_spec(epochs=1), _ds())
    path = store / "m.keras"
    training.save_model(result.model, path)
    x = _ds().val.x
    before, after = (
        training.predict(result.model, x),
        training.predict(training.load_model(path), x),
    )
    return {"max_abs_diff": float(np.max(np.abs(before - after)))}


def cli_train(store: Path) -> dict:
    """The whole worker path on the bundled data: spec -> run store -> summary.json."""
    os.environ["MODELS_CACHE"] = str(store / "models_cache")
    code = cli.main(["train", "--cell", "gru", "--units", "4", "--epochs", "1", "--lookback",
                     "10", "--start", "2015-01-02", "--end", "2016-12-30", "--json"])  # fmt: skip
    (run_dir,) = (store / "models_cache").glob("[0-9a-f]*")
    return {"exit": code, "result": json.loads((run_dir / "summary.json").read_text())}


def scan_steps() -> dict:
    """Several train steps per device call (a lax.scan, InstrumentedModel.make_train_function)
    against Keras' one call per step: 96 windows in batches of 20 are four full batches and
    a smaller last one, so groups of 3 split as a scan of 3, then single steps."""
    from core import backend_jax

    traced: list[int] = []
    scan = backend_jax.InstrumentedModel._scan_steps

    def counting(self: object, state: tuple, batches: list) -> tuple:
        traced.append(len(batches))  # at trace time: once per compiled scan length
        return scan(self, state, batches)

    backend_jax.InstrumentedModel._scan_steps = counting  # type: ignore[method-assign]
    spec, rows = _spec(cell="lstm", layers=2, epochs=2, batch_size=20), {}
    try:
        for name, options in (("default", None), ("groups_of_3", 3), ("one_per_call", 1)):
            traced_before = len(traced)
            if options is not None:
                training.compile_options = lambda device, k=options: {"steps_per_execution": k}
            result = training.fit(spec, _ds())
            rows[name] = {"rows": _rows(result), "scans": traced[traced_before:],
                          "gtt": result.gradients_through_time}  # fmt: skip
    finally:
        backend_jax.InstrumentedModel._scan_steps = scan  # type: ignore[method-assign]
        training.compile_options = backend_jax.compile_options
    return {"steps_per_execution": backend_jax.compile_options({})["steps_per_execution"],
            **rows}  # fmt: skip


def load_tf_model(path: str, inputs: str) -> dict:
    """A model saved by the TensorFlow backend, loaded and run here: the run store is shared."""
    return {"predictions": training.predict(training.load_model(path), np.load(inputs)).tolist()}


def main() -> None:
    store = Path(sys.argv[1])
    out = {
        "backend": training.BACKEND,
        "determinism": determinism(),
        "direct_norms": direct_norms(),
        "gtt": gtt_vs_per_sample(),
        "clipping": clipping(),
        "save_load": save_load(store),
        "cli": cli_train(store),
        "scan": scan_steps(),
    }
    if len(sys.argv) == 4:
        out["tf_model"] = load_tf_model(sys.argv[2], sys.argv[3])
    out["tensorflow_imported"] = "tensorflow" in sys.modules
    print(json.dumps(out))


if __name__ == "__main__":
    main()
