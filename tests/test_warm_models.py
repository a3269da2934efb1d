"""A warm worker's compiled models (core/warm_models.py): reuse computes what a new model
would, bit for bit; the prewarmed architectures get XLA; the cache keeps the last few."""

import pytest

from core import compile_choice, config, data, dataset, training, warm_models
from core.config import RunSpec
from pages.lib import sources

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ds():
    prices = data.load_prices("sample", "^GSPC", start="2015-01-01", end="2016-06-30")
    return dataset.make_dataset(prices, _spec(1).data)


def _spec(seed: int, **changes) -> RunSpec:
    base = dict(units=4, lookback=5, epochs=2, patience=0, probe_size=8, seed=seed)
    return RunSpec().replace(**{**base, **changes})


def _losses(result: training.TrainResult) -> list:
    return [(r["loss"], r["val_loss"], r["grad_norm"]["global"]["mean"]) for r in result.history]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_reused_model_trains_exactly_as_a_new_one(ds, cell, monkeypatch):
    monkeypatch.setenv("GRADLAB_XLA", "off")  # the plain path: quick to trace in a test
    # Dropout draws from seed-generator state, which the reset must restore too.
    spec = _spec(2, cell=cell, dropout=0.2, learning_rate=0.01)
    fresh = training.fit(spec, ds)
    cache = warm_models.ModelCache()
    first = training.fit(_spec(1, cell=cell, dropout=0.2), ds, models=cache)  # other seed, lr
    again = training.fit(spec, ds, models=cache)
    assert (first.compile["reused"], again.compile["reused"]) == (False, True)
    assert again.model is first.model and cache.hits == 1
    assert _losses(again) == _losses(fresh)  # weights, dropout seeds, optimizer state reset
    assert again.gradients_through_time["norms"] == fresh.gradients_through_time["norms"]
    assert again.gradients_through_time["norms"] != first.gradients_through_time["norms"]
    fresh_pred = training.predict(fresh.model, ds.test.x)
    assert (training.predict(again.model, ds.test.x) == fresh_pred).all()


def test_a_different_architecture_gets_its_own_model(ds, monkeypatch):
    monkeypatch.setenv("GRADLAB_XLA", "off")
    cache = warm_models.ModelCache(keep=1)
    a = training.fit(_spec(1), ds, models=cache)
    b = training.fit(_spec(1, units=5), ds, models=cache)
    c = training.fit(_spec(1), ds, models=cache)  # keep=1: a's model was let go for b's
    assert not (a.compile["reused"] or b.compile["reused"] or c.compile["reused"])
    assert len(cache) == 1 and cache.hits == 0


def test_the_prewarmed_run_is_the_train_pages_default():
    default = config.dashboard_default()
    assert warm_models.prewarm_specs() == [default]
    assert default.data.start == sources.DEFAULT_FROM.isoformat()  # what the page opens on
    # Seed, learning rate, epochs and patience leave the traced steps as they are...
    assert warm_models.is_prewarmed(default.replace(seed=4, learning_rate=0.01, epochs=3))
    assert warm_models.is_prewarmed(default.replace(patience=0))
    # ... the cell, the architecture, the data (XLA compiles per batch shape), the clipping
    # or the batch size do not.
    changes = ({"cell": "gru"}, {"units": 16}, {"lookback": 60}, {"clipnorm": 1.0})
    for change in (*changes, {"start": None}, {"ticker": "AAPL"}, {"batch_size": 32}):
        assert not warm_models.is_prewarmed(default.replace(**change)), change


def test_a_warm_worker_gives_its_prewarmed_architectures_xla(monkeypatch):
    monkeypatch.delenv("GRADLAB_XLA", raising=False)
    spec, base = config.dashboard_default(), {"jit_compile": True, "steps_per_execution": 8}
    cold = compile_choice.choose(spec, 3500, base)
    warm = compile_choice.choose(spec, 3500, base, warm=True)
    assert (cold["xla"], warm["xla"]) == (False, True)  # the default run is below break-even
    assert "warm worker" in warm["why"] and warm["options"] == base
    monkeypatch.setenv("GRADLAB_XLA", "off")  # the override still wins
    assert compile_choice.choose(spec, 3500, base, warm=True)["xla"] is False


def test_prewarm_compiles_each_architecture_once_and_a_run_reuses_it(monkeypatch):
    tiny = _spec(0, epochs=1)
    monkeypatch.setattr(warm_models, "prewarm_specs", lambda: [tiny])
    monkeypatch.delenv("GRADLAB_XLA", raising=False)
    said: list[str] = []
    pre = warm_models.Prewarmer(warm_models.ModelCache(), said.append)
    assert pre.step() and not pre.step()
    assert list(pre.spent) == ["lstm"] and len(said) == 1 and len(pre.cache) == 1
    ds = pre._dataset(tiny)
    built = []  # the default's seed and learning rate: a click builds no model, no optimizer
    for name in ("build_model", "_optimizer"):
        real = getattr(training, name)
        monkeypatch.setattr(training, name, lambda *a, _r=real, **k: built.append(a) or _r(*a, **k))
    assert training.fit(tiny.replace(epochs=2), ds, models=pre.cache).compile["reused"]
    assert built == []
    monkeypatch.undo()
    monkeypatch.setattr(warm_models, "prewarm_specs", lambda: [tiny])
    monkeypatch.delenv("GRADLAB_XLA", raising=False)
    run = training.fit(tiny.replace(seed=5, epochs=2), ds, models=pre.cache)
    assert run.compile["reused"] and run.compile["xla"]  # compiled before the "click"
    monkeypatch.setenv("GRADLAB_XLA", "on")
    fresh = training.fit(tiny.replace(seed=5, epochs=2), ds)
    assert _losses(run) == _losses(fresh)


def test_a_seed_seen_before_starts_from_kept_values_without_a_build(ds, monkeypatch):
    """ModelCache.start: the second run of a seed assigns the first one's initial weights
    instead of building a model for them, and still trains as a new model does."""
    monkeypatch.setenv("GRADLAB_XLA", "off")
    spec = _spec(3, dropout=0.2, learning_rate=0.01)
    cache = warm_models.ModelCache()
    training.fit(spec, ds, models=cache)  # new: its start is kept
    builds = []
    real = training.build_model
    monkeypatch.setattr(training, "build_model", lambda *a, **k: builds.append(a) or real(*a, **k))
    again = training.fit(spec.replace(epochs=3), ds, models=cache)
    assert again.compile["reused"] and builds == []
    monkeypatch.setattr(training, "build_model", real)
    fresh = training.fit(spec.replace(epochs=3), ds)
    assert _losses(again) == _losses(fresh)
    assert again.gradients_through_time["norms"] == fresh.gradients_through_time["norms"]


def test_set_seed_seeds_as_keras_does_without_flushing_the_kernel_cache(monkeypatch):
    """core.backend_tf.set_seed: the same random state as keras.utils.set_random_seed, but
    TensorFlow's instantiated functions survive it (the flush cost each warm run 0.4 s)."""
    import random

    import keras
    import numpy as np
    from tensorflow.python import pywrap_tfe
    from tensorflow.python.framework import random_seed

    from core import backend_tf

    flushes = []
    real = pywrap_tfe.TFE_ContextClearCaches
    monkeypatch.setattr(pywrap_tfe, "TFE_ContextClearCaches", lambda h: flushes.append(real(h)))

    def state() -> tuple:
        drawn = keras.random.uniform((3,)).numpy().tolist()  # Keras' global SeedGenerator
        return random.random(), np.random.rand(), random_seed.get_seed(None), drawn

    keras.ops.add(1.0, 1.0)  # an eager op: TensorFlow's context exists, so Keras' seed flushes
    keras.utils.set_random_seed(7)
    assert len(flushes) == 1  # the counter sees Keras' flush: the check below can fail
    expected = state()
    backend_tf.set_seed(7)
    assert len(flushes) == 1 and state() == expected
    assert pywrap_tfe.TFE_ContextClearCaches is not backend_tf._keep_cache  # restored
