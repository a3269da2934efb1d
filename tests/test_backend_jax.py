"""The training core under KERAS_BACKEND=jax: same rows, norms, GTT, clipping and run store.

Keras fixes its backend per process, so tests/jax_checks.py runs in a child process with
TensorFlow made unimportable (as on a GPU machine with JAX only) and reports its findings.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")
keras = pytest.importorskip("keras")
training = pytest.importorskip("core.training")

from core.config import ModelSpec  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DESIGN_ROW = {
    "epoch", "loss", "val_loss", "seconds", "lr", "grad_norm", "clipped_fraction",
    "spectral_radius", "spectral_radius_blocks",
    "gates", "step_factor", "memory_horizon",  # core/gates.py: backend-free NumPy
}  # fmt: skip


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jax")
    # A model saved by this (TensorFlow) process, for the child to load: a wavefront stack,
    # the CPU's build, so its registered cell class must load on JAX too.
    spec = ModelSpec(cell="lstm", units=4, layers=2)
    model = training.build_model(spec, 6, 1, seed=3, wavefront=True)
    x = np.random.default_rng(0).normal(size=(5, 6, 1)).astype(np.float32)
    training.save_model(model, tmp / "tf.keras")
    np.save(tmp / "x.npy", x)
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [str(tmp), str(tmp / "tf.keras"), str(tmp / "x.npy")]
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "jax_checks.py"), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["tf_predictions"] = training.predict(model, x).tolist()
    return out


def test_runs_on_jax_without_tensorflow(found):
    assert found["backend"] == "jax" and found["tensorflow_imported"] is False
    assert found["determinism"]["device"] == {
        "name": "CPU", "gpu": False, "mixed_precision": False, "backend": "jax"
    }  # fmt: skip


def test_same_seed_same_rows_and_rows_follow_the_design(found):
    d = found["determinism"]
    assert d["same_rows"] and d["same_gtt"] and d["other_seed_differs"]
    row = d["row"]
    assert set(row) == DESIGN_ROW and row["lr"] == 1e-3 and row["clipped_fraction"] == 0.0
    assert set(row["grad_norm"]) == {"global", "rnn_0", "rnn_1", "head"}
    for norms in row["grad_norm"].values():
        assert 0 < norms["mean"] <= norms["max"] and math.isfinite(norms["max"])
    assert set(row["spectral_radius_blocks"]["rnn_0"]) == {"z", "r", "h"}
    assert d["gtt"]["epochs"] == [0, 1, 2] and all(len(g) == 6 for g in d["gtt"]["norms"])


def test_norms_equal_a_direct_gradient_computation(found):
    rec, direct = found["direct_norms"]["recorded"], found["direct_norms"]["direct"]
    assert found["direct_norms"]["wavefront"]  # two layers on a CPU: trained as one loop
    for name in ("global", "rnn_0", "rnn_1", "head"):
        assert rec[name]["mean"] == pytest.approx(direct[name], rel=1e-4)
        assert rec[name]["max"] == pytest.approx(direct[name], rel=1e-4)


def test_gradients_through_time_match_per_sample_gradients(found):
    np.testing.assert_allclose(found["gtt"]["probe"], found["gtt"]["expected"], rtol=1e-4)


def test_clipping_counts_and_save_load(found):
    assert found["clipping"] == {"tiny": 1.0, "none": 0.0}
    assert found["save_load"]["max_abs_diff"] == 0.0


def test_the_worker_path_writes_a_complete_run(found):
    cli = found["cli"]
    assert cli["exit"] == 0
    summary = cli["result"]
    assert summary["backend"] == "jax" and summary["epochs_run"] == 1
    assert summary["metrics"]["naive_rmse"] > 0


def test_a_model_saved_on_tensorflow_predicts_the_same_on_jax(found):
    np.testing.assert_allclose(
        found["tf_model"]["predictions"], found["tf_predictions"], rtol=1e-5, atol=1e-6
    )


def test_several_steps_per_device_call_train_exactly_as_one_step_per_call(found):
    """A GPU step is shorter than Keras' host work per call, so JAX groups steps into one
    lax.scan (core/backend_jax.py); the rows must not change by a bit."""
    scan = found["scan"]
    assert scan["steps_per_execution"] > 1  # on by default under JAX
    assert scan["default"]["scans"] == [4]  # the four full batches: one scan, traced once
    assert scan["groups_of_3"]["scans"] == [3]  # then a full and the smaller one, singly
    assert scan["one_per_call"]["scans"] == []  # Keras' own step, one call per batch
    for name in ("default", "groups_of_3"):
        assert scan[name]["rows"] == scan["one_per_call"]["rows"], name
        assert scan[name]["gtt"] == scan["one_per_call"]["gtt"], name
