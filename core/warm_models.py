"""Compiled models a warm worker keeps between runs, so a run of a seen architecture skips
tracing and compiling its steps.

Keras traces (and under XLA compiles) a model's train, test and predict steps on the first
batch, per model object: on the 2-core CPU 2.8 s of the default run's first epoch without XLA,
6-9 s with it, the largest fixed cost of a run once TensorFlow is imported
(docs/BENCHMARKS.md, "Time to result"). A warm worker therefore keeps the last few compiled
models, keyed by everything their steps are traced from (architecture, input shape,
optimizer kind, clipping, compile options), and gives a later run of the same key that
model reset to the run's own start: every variable (weights and dropout seed state) set to
a new model's with the run's seed, the optimizer's variables to a new optimizer's. Those
start values are built once per seed (and learning rate) and kept (ModelCache.start), so a
seed seen before builds nothing. The steps then compute exactly what a new model would:
tests/test_warm_models.py checks equal losses, bit for bit.

Before the first click the worker prewarms the dashboard's default architecture on the
default data (Prewarmer): the default run then finds its XLA steps compiled, and
core/compile_choice.py gives a warm worker's runs of that architecture XLA's steady-state
speed at no compile cost. What is prewarmed depends only on the spec, so the same spec
always gets the same compile options in a warm worker.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from core.config import RunSpec, dashboard_default

KEEP = 4  # compiled models held at once: the default and the last three others
START_KEEP = 32  # start values held (ModelCache.start): a few per seed and learning rate


def arch_key(spec: RunSpec, lookback: int, n_features: int, options: dict, wave: bool) -> tuple:
    """Everything a model's traced steps depend on; two specs with equal keys share them."""
    return (
        spec.model,  # frozen dataclass: cell, layers, units, dropouts, activation
        lookback,
        n_features,
        *_traced_training(spec),
        tuple(sorted(options.items())),
        wave,
    )


def _traced_training(spec: RunSpec) -> tuple:
    """The training settings a model's steps are traced from (not seed, lr, epochs)."""
    t = spec.train
    return (t.optimizer, t.clipnorm, t.mixed_precision)


def prewarm_specs() -> list[RunSpec]:
    """The runs a warm worker compiles before the first click: the Train page's default
    (core.config.dashboard_default). One only: a click that comes while a compile is under
    way waits for it (one XLA compile of a GRU took 12-25 s on the 2-core box), so other
    models are compiled by their first run, plain or with XLA as core/compile_choice.py
    rules, and reused by the later ones."""
    return [dashboard_default()]


def is_prewarmed(spec: RunSpec) -> bool:
    """Whether spec is a run a warm worker compiles before any click: the same model, data
    (hence the same batch shapes, which XLA compiles for) and the training settings its steps
    are traced from; the seed, learning rate, epochs and patience may differ."""
    return any(_traced_alike(spec, p) for p in prewarm_specs())


def _traced_alike(a: RunSpec, b: RunSpec) -> bool:
    return (
        a.model == b.model
        and a.data == b.data
        and _traced_training(a) == _traced_training(b)
        and a.train.batch_size == b.train.batch_size  # XLA compiles per batch shape
    )


class ModelCache:
    """The last KEEP compiled models of one worker process, least recently used first out."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._models: OrderedDict[tuple, Any] = OrderedDict()
        self._starts: OrderedDict[tuple, list] = OrderedDict()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._models)

    def take(
        self, key: tuple, build: Callable[[], Any], reset: Callable[[Any], None]
    ) -> tuple[Any, bool]:
        """(model, reused): the cached model of key, reset to the run's start, or a new
        build() (which the caller compiles and which is kept for the next run of key)."""
        model = self._models.get(key)
        if model is None:
            model = self._models[key] = build()
            while len(self._models) > self.keep:
                self._models.popitem(last=False)
            return model, False
        self._models.move_to_end(key)
        reset(model)
        self.hits += 1
        return model, True

    def start(self, key: tuple, make: Callable[[], list]) -> list:
        """The values a run starts from (a seed's initial weights, a new optimizer's state),
        made once per key and kept (NumPy copies, kilobytes): a warm run then assigns them
        instead of building a model and an optimizer for them (0.1-0.3 s of its build)."""
        values = self._starts.get(key)
        if values is None:
            values = self._starts[key] = make()
            while len(self._starts) > START_KEEP:
                self._starts.popitem(last=False)
        self._starts.move_to_end(key)
        return values


class Prewarmer:
    """Compiles the prewarm_specs' models into a cache one at a time, on the default data
    (one epoch each, with its test and predict steps and the probe): a warm worker calls
    step() whenever it is idle, checking its queue between steps."""

    def __init__(self, cache: ModelCache, log: Callable[[str], None]) -> None:
        self.cache = cache
        self.log = log
        self.todo = prewarm_specs()
        self.spent: dict[str, float] = {}  # cell -> seconds its compile took
        self._frames: dict[tuple, Any] = {}

    def step(self) -> bool:
        """Compile the next architecture; False when all are compiled."""
        if not self.todo:
            return False
        from core import training

        spec = self.todo.pop(0)
        t0 = time.perf_counter()
        ds = self._dataset(spec)
        one_epoch = spec.replace(epochs=1, patience=0)
        result = training.fit(one_epoch, ds, models=self.cache)
        for split in ("train", "val", "test"):  # the evaluation's predict shapes
            training.predict(result.model, getattr(ds, split).x)
        # Once more, reused: the default learning rate's optimizer start is kept too (building
        # it cost a first click 0.1-0.3 s), and the reused path has run before any click.
        training.fit(one_epoch, ds, models=self.cache)
        self.spent[spec.model.cell] = round(time.perf_counter() - t0, 2)
        self.log(f"prewarmed {spec.model.cell} in {self.spent[spec.model.cell]:.1f} s")
        return True

    def _dataset(self, spec: RunSpec) -> Any:
        from core import data, dataset

        d = spec.data
        key = (d.source, d.ticker, d.start, d.end)
        if key not in self._frames:
            self._frames[key] = data.load_prices(d.source, d.ticker, start=d.start, end=d.end)
        return dataset.make_dataset(self._frames[key], d)
