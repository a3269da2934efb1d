"""Drive a sweep with Optuna's ask/tell: each trial is an ordinary run submitted via core.jobs.

One study per cell in the store's SQLite database. The driver asks a study for settings,
submits the run (a cached run answers at once), reads its per-epoch rows from the run store
to report validation loss (pruning a hopeless run by cancelling it) and tells the study the
best validation loss when the run is done. The objective never looks at the test split.

Restart-safe: a trial left RUNNING by a driver that died is re-attached to its run (still
training, done meanwhile, or resubmitted: the same spec is the same run id, so a finished
run is reused and an interrupted one retrains). One driver per sweep at a time (a file lock).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock

from core import jobs
from core.errors import UserError
from core.runs import ACTIVE, RunStore
from core.sweep import PARAMS, SweepDef, budget, storage_url, sweeps_dir

Log = Callable[[str], None]
_drivers: list[Any] = []  # sweep drivers this process started (start_background)
PRUNED = "pruned by the sweep: its validation loss trailed the median of earlier trials"


def _optuna() -> Any:
    try:
        import optuna  # lazy: ~1 s, only a sweep needs it
    except ImportError:
        raise UserError(
            "sweeps need Optuna: pip install -r requirements.txt (it pins optuna)"
        ) from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _storage(root: Any) -> Any:
    optuna = _optuna()
    # A generous busy timeout: the page reads the database while a driver writes it.
    kwargs = {"connect_args": {"timeout": 30}}
    return optuna.storages.RDBStorage(storage_url(root), engine_kwargs=kwargs)


def _distributions(d: SweepDef) -> dict[str, Any]:
    dist = _optuna().distributions
    out: dict[str, Any] = {}
    for r in d.ranges:
        if d.sampler == "grid" or r.values:
            out[r.name] = dist.CategoricalDistribution(tuple(r.grid()))
        elif r.kind == "int":
            out[r.name] = dist.IntDistribution(int(r.low), int(r.high), log=r.log)
        else:
            out[r.name] = dist.FloatDistribution(float(r.low), float(r.high), log=r.log)
    return out


def _study(d: SweepDef, cell: str, storage: Any, create: bool = True) -> Any:
    optuna = _optuna()
    name = f"{d.name}-{cell}"
    if not create:
        return optuna.load_study(study_name=name, storage=storage)
    existing = (
        len(optuna.load_study(study_name=name, storage=storage).trials)
        if _has(storage, name)
        else 0
    )
    seed = d.base_spec().train.seed + 1000 * existing  # a restart must not re-propose trial 0
    samplers = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        # The grid is enqueued once (below), not a GridSampler: that one calls study.stop(),
        # which only works inside study.optimize, never with ask/tell.
        "grid": lambda: optuna.samplers.RandomSampler(seed=seed),
    }
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
        if d.pruner == "median"
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        study_name=name, storage=storage, direction="minimize",
        sampler=samplers[d.sampler](), pruner=pruner, load_if_exists=True,
    )  # fmt: skip
    study.set_user_attr("sweep", d.name)
    study.set_user_attr("cell", cell)
    if d.sampler == "grid" and existing == 0:
        _enqueue_grid(d, study, seed)
    return study


def _enqueue_grid(d: SweepDef, study: Any, seed: int) -> None:
    """Every grid point once, in a seeded shuffled order (any budget samples the whole grid)."""
    import itertools
    import random

    points = list(itertools.product(*(r.grid() for r in d.ranges)))
    random.Random(seed).shuffle(points)
    for point in points:
        study.enqueue_trial(dict(zip([r.name for r in d.ranges], point, strict=True)))


def _counted(study: Any) -> list[Any]:
    """Trials asked so far: grid points still waiting in the queue are not yet spent."""
    ts = _optuna().trial.TrialState
    return study.get_trials(deepcopy=False, states=(ts.COMPLETE, ts.PRUNED, ts.FAIL, ts.RUNNING))


def _has(storage: Any, name: str) -> bool:
    return any(s.study_name == name for s in storage.get_all_studies())


def best_val_loss(store: RunStore, rid: str) -> float | None:
    """The objective: the lowest validation loss over the run's epochs (its restored weights)."""
    vals = [r.get("val_loss") for r in store.metrics(rid)]
    finite = [float(v) for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
    return min(finite) if finite else None


@dataclass
class Active:
    cell: str
    trial: Any  # optuna.trial.Trial
    run_id: str
    reported: set[int] = field(default_factory=set)


class Driver:
    def __init__(self, store: RunStore, d: SweepDef, log: Log, parallel: int) -> None:
        self.store, self.d, self.log, self.parallel = store, d, log, parallel
        self.prices = store.load_prices(d.fingerprint)
        self.storage = _storage(store.root)
        self.studies = {cell: _study(d, cell, self.storage) for cell in d.cells}
        self.dists = _distributions(d)
        self.active: list[Active] = []

    def run(self, poll_s: float) -> None:
        self._recover()
        while True:
            while len(self.active) < self.parallel and self._start_next():
                pass
            if not self.active:
                return
            self.active = [a for a in self.active if not self._poll(a)]
            if self.active:
                time.sleep(poll_s)

    def _remaining(self, cell: str) -> int:
        return budget(self.d) - len(_counted(self.studies[cell]))

    def _start_next(self) -> bool:
        cell = max(self.d.cells, key=self._remaining)
        if self._remaining(cell) <= 0:
            return False
        trial = self.studies[cell].ask(self.dists)
        params = _params(trial.params)
        trial.set_user_attr("cell", cell)
        self._submit(Active(cell, trial, ""), params)
        return True

    def _submit(self, a: Active, params: dict[str, Any]) -> None:
        spec = self.d.spec_for(a.cell, params)
        try:
            sub = jobs.submit(spec, self.prices, self.store)
        except UserError as exc:  # e.g. a lookback too long for the data: this trial fails
            a.trial.set_user_attr("error", str(exc))
            self._tell(a, None, "fail")
            return
        a.run_id = sub.run_id
        a.trial.set_user_attr("run_id", sub.run_id)
        self.log(f"trial {a.trial.number} ({a.cell}): run {sub.run_id} {_show(params)}")
        if not self._poll(a):
            self.active.append(a)

    def _poll(self, a: Active) -> bool:
        """Report new epochs, prune or finish; True once the trial is told."""
        st = self.store.status(a.run_id)
        state = st.get("state")
        for row in self.store.metrics(a.run_id):
            val, epoch = row.get("val_loss"), row.get("epoch")
            if isinstance(epoch, int) and epoch not in a.reported and isinstance(val, float):
                if not math.isfinite(val):
                    continue  # a diverging epoch: the run ends diverged, the trial fails
                a.trial.report(val, epoch)
                a.reported.add(epoch)
                if state in ACTIVE and a.trial.should_prune():
                    jobs.cancel(a.run_id, self.store)
                    self.store.write_status(a.run_id, error=f"{PRUNED} (epoch {epoch})")
                    return self._tell(a, None, "pruned")
        if state in ACTIVE:
            return False
        a.trial.set_user_attr("run_state", state)
        if state == "done" and (value := best_val_loss(self.store, a.run_id)) is not None:
            return self._tell(a, value, "complete")
        a.trial.set_user_attr("error", st.get("error") or f"the run ended {state}")
        return self._tell(a, None, "fail")

    def _tell(self, a: Active, value: float | None, how: str) -> bool:
        ts = _optuna().trial.TrialState
        state = {"complete": ts.COMPLETE, "pruned": ts.PRUNED, "fail": ts.FAIL}[how]
        self.studies[a.cell].tell(a.trial, value if how == "complete" else None, state=state)
        shown = f"val_loss {value:.5g}" if value is not None else how
        self.log(f"trial {a.trial.number} ({a.cell}): {shown}")
        return True

    def _recover(self) -> None:
        """Trials a dead driver left RUNNING: re-attach each to its run (or resubmit it)."""
        optuna = _optuna()
        for cell, study in self.studies.items():
            for frozen in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
                # Trial(study, id) rebuilds the live handle; _trial_id is the storage key.
                trial = optuna.trial.Trial(study, frozen._trial_id)
                a = Active(cell, trial, "", set(frozen.intermediate_values))
                trial.set_user_attr("cell", cell)
                self.log(f"trial {frozen.number} ({cell}): resumed")
                self._submit(a, _params(_draw_missing(trial, self.dists)))


def _draw_missing(trial: Any, dists: dict[str, Any]) -> dict[str, Any]:
    """All of a trial's settings: a driver killed inside ask() leaves some (or all) undrawn."""
    dist = _optuna().distributions
    for name, d in dists.items():
        if name in trial.params:
            continue
        if isinstance(d, dist.CategoricalDistribution):
            trial.suggest_categorical(name, d.choices)
        elif isinstance(d, dist.IntDistribution):
            trial.suggest_int(name, d.low, d.high, log=d.log)
        else:
            trial.suggest_float(name, d.low, d.high, log=d.log)
    return dict(trial.params)


def _params(raw: dict[str, Any]) -> dict[str, Any]:
    """Optuna's values as the spec's types (a grid's categorical values come back as given)."""
    return {k: int(v) if PARAMS[k][0] == "int" else float(v) for k, v in raw.items()}


def _show(params: dict[str, Any]) -> str:
    return " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def run_sweep(
    store: RunStore, d: SweepDef, log: Log | None = None, parallel: int = 1, poll_s: float = 0.5
) -> dict[str, Any]:
    """Run (or resume) sweep d to its budget; returns report(store, d)."""
    log = log or (lambda _msg: None)
    lock = filelock.FileLock(str(sweeps_dir(store.root) / f"{d.name}.lock"), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise UserError(
            f"sweep {d.name} is already running in another process: wait for it or stop it"
        ) from None
    try:
        Driver(store, d, log, parallel).run(poll_s)
    finally:
        lock.release()
    return report(store, d)


def report(store: RunStore, d: SweepDef) -> dict[str, Any]:
    """{sweep, storage, sampler, budget, trials: [...], best: {cell: {...}}} from the studies."""
    storage = _storage(store.root)
    trials: list[dict[str, Any]] = []
    best: dict[str, Any] = {}
    for cell in d.cells:
        if not _has(storage, f"{d.name}-{cell}"):
            continue
        for t in _counted(_study(d, cell, storage, create=False)):
            row = {"number": t.number, "cell": cell, "run_id": t.user_attrs.get("run_id")}
            row.update(state=t.state.name.lower(), params=t.params, value=t.value)
            row.update(run_state=t.user_attrs.get("run_state"), error=t.user_attrs.get("error"))
            trials.append(row)
        done = [t for t in trials if t["cell"] == cell and t["state"] == "complete"]
        if done:
            top = min(done, key=lambda t: t["value"])
            best[cell] = {k: top[k] for k in ("run_id", "params", "value")}
    return {
        "sweep": d.name, "storage": storage_url(store.root), "sampler": d.sampler,
        "cells": list(d.cells), "budget": budget(d), "ranges": [r.label() for r in d.ranges],
        "trials": trials, "best": best,
    }  # fmt: skip


def start_background(store: RunStore, d: SweepDef) -> int:
    """Save d and drive it in a detached `python -m core sweep --name` (the page's way)."""
    import os
    import subprocess
    import sys

    from core.sweep import save_def

    save_def(store.root, d)
    _drivers[:] = [p for p in _drivers if p.poll() is None]  # reap: no zombies in the server
    proc = subprocess.Popen(  # noqa: S603 - fixed argv; the name is a checked hash
        [sys.executable, "-m", "core", "sweep", "--name", d.name],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "MODELS_CACHE": str(store.root)},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives the page's rerun; its runs are ordinary jobs
    )  # fmt: skip
    _drivers.append(proc)
    return proc.pid


def is_running(store: RunStore, d: SweepDef) -> bool:
    """A driver holds the sweep's lock right now."""
    lock = filelock.FileLock(str(sweeps_dir(store.root) / f"{d.name}.lock"), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        return True
    lock.release()
    return False
