"""The worker: train one queued run and write everything it learns into the run store.

Used by every executor (``python -m core.worker RUN_DIR``, a Ray task) and by the foreground
CLI alike, so all produce identical runs. It waits for a slot lock BEFORE TensorFlow is
imported: a queued worker costs a small Python process, not a TensorFlow runtime.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import filelock
import numpy as np

from core import phases, worker_limits
from core.errors import UserError
from core.procs import process_identity
from core.runs import RunStore, now_iso

Log = Callable[[str], None]
BATCH_EVERY_S = 0.5  # live per-batch progress; each write is a small locked JSON file
POLL_S = 0.2  # slot polling; short enough that a freed slot is taken at once
DIVERGED = (
    "training diverged (the loss became NaN or infinite): lower the learning rate or set clipnorm"
)

DISK_FULL = (
    "the disk is full (no space left to write the run): free disk space or set "
    "GRADLAB_CACHE_BUDGET_MB lower so old runs are evicted, then train again"
)


class StoreSink:
    """training.Sink that streams the probe, per-epoch rows and progress into the store."""

    def __init__(self, store: RunStore, run_id: str, epochs: int, log: Log) -> None:
        self.store, self.run_id, self.epochs, self.log = store, run_id, epochs, log
        self._batch_at = 0.0

    def on_probe(self, x: np.ndarray, y: np.ndarray) -> None:
        self.store.write_probe(self.run_id, x, y)

    def on_epoch(self, row: dict, gtt: dict) -> None:
        self.store.append_metrics(self.run_id, row)
        self.store.write_json(self.run_id, "gradients_through_time.json", gtt)
        self.store.write_status(self.run_id, epoch=row["epoch"])
        self.log(_progress(row, self.epochs))

    def on_phase(self, name: str, words: str) -> None:
        """What the live view says is happening ("compiling the model (first epoch)")."""
        self.store.write_status(self.run_id, phase=words, phase_key=name)

    def on_batch(self, epoch: int, batch: int, batches: int) -> None:
        """Batches done in the running epoch, at most every BATCH_EVERY_S (a status write)."""
        now = time.monotonic()
        if now - self._batch_at < BATCH_EVERY_S and batch < batches:
            return
        self._batch_at = now
        self.store.write_status(self.run_id, batch=batch, batches=batches, batch_epoch=epoch)


def _progress(row: dict, epochs: int) -> str:
    def num(v: Any) -> str:
        return "nan" if v is None else f"{v:.5f}"

    glob = (row.get("grad_norm") or {}).get("global") or {}
    return (
        f"epoch {row['epoch']}/{epochs}  loss {num(row.get('loss'))}  "
        f"val_loss {num(row.get('val_loss'))}  grad_norm mean {num(glob.get('mean'))}  "
        f"{row.get('seconds', 0.0):.1f}s"
    )


def try_slot(store: RunStore) -> filelock.BaseFileLock | None:
    """One of the N slot locks (GRADLAB_WORKERS) if one is free now, else None."""
    from core.jobs import max_workers

    slots = store.root / "_slots"
    slots.mkdir(exist_ok=True)
    for i in range(max_workers()):
        lock = filelock.FileLock(str(slots / f"{i}.lock"), timeout=0)
        try:
            lock.acquire()
            return lock
        except filelock.Timeout:
            continue
    return None


def wait_for_slot(store: RunStore, run_id: str) -> filelock.BaseFileLock | None:
    """Hold one of N slot locks; None if the run stopped being queued (cancelled) meanwhile."""
    while store.status(run_id).get("state") == "queued":
        slot = try_slot(store)
        if slot is not None:
            return slot
        time.sleep(POLL_S)
    return None


def execute(
    store: RunStore,
    run_id: str,
    log: Log | None = None,
    *,
    slot_held: bool = False,
    models: Any = None,
) -> dict[str, Any]:
    """Train the queued run run_id; returns its summary (or its final status if it did not finish).

    slot_held: the caller (a warm worker) already holds a slot and has claimed the run.
    models: the warm worker's compiled models (core/warm_models.ModelCache), or None."""
    log = log or (lambda _msg: None)
    store.clean_tmp()
    slot = None
    if not slot_held:
        try:
            raw = store.read_json(run_id, "status.json") or {}
        except ValueError:  # hand-edited status: status() reads it as failed and we stop below
            raw = {}
        if raw.get("state") == "queued" and raw.get("pid") is None:
            store.write_status(run_id, **process_identity())  # started by hand, not by submit
        slot = wait_for_slot(store, run_id)
        if slot is None:
            return dict(store.status(run_id))
    try:
        with worker_limits.Watchdog(store, run_id):
            result = _train(store, run_id, log, models)
    except UserError as exc:
        result = _fail(store, run_id, str(exc))
    except Exception as exc:  # our bug (or a full disk): record it instead of dying silently
        log(traceback.format_exc())
        result = _fail(store, run_id, _internal_message(exc))
    finally:
        if slot is not None:
            slot.release()
    with contextlib.suppress(Exception):  # a full disk must not turn a finished run into a failure
        store.evict()
    return result


def _internal_message(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL  # the machine's disk, not our bug: say what to do
    return f"internal error: {type(exc).__name__}: {exc}"


def _fail(store: RunStore, run_id: str, message: str) -> dict[str, Any]:
    return store.write_status(run_id, state="failed", finished=now_iso(), error=message)


def _train(store: RunStore, run_id: str, log: Log, models: Any = None) -> dict[str, Any]:
    spec = store.spec(run_id)
    fp = store.read_json(run_id, "spec.json")["data_fingerprint"]
    began, me = time.time(), process_identity()
    queued = store.write_status(
        run_id, state="running", started=now_iso(), started_ts=began, epoch=0,
        epochs=spec.train.epochs, error=None, phase="loading the data", **me,
    )  # fmt: skip
    sink = StoreSink(store, run_id, spec.train.epochs, log)
    with phases.Timer() as data_t:  # data problems surface before TensorFlow's seconds
        ds = _dataset(store, spec, fp)
    sink.on_phase("worker_start", "starting a worker (loading TensorFlow)")
    with phases.Timer() as import_t:
        from core import training  # TensorFlow loads here (a warm worker has it already)

        device = training.setup_device(spec.train.mixed_precision)
    store.write_status(run_id, device=device["name"])
    log(f"run {run_id}: {spec.model.cell} on {device['name']}, {spec.train.epochs} epochs")
    result = training.fit(spec, ds, sink, models)
    if result.state == "diverged":
        return store.write_status(
            run_id, state="diverged", finished=now_iso(), epoch=result.epochs_run, error=DIVERGED
        )
    spent = phases.waits(queued, began, me["pid_created"], import_t.seconds)
    spent.update(data=data_t.seconds, **result.phases)
    summary = _finish(store, run_id, spec, ds, result, spent)
    store.write_status(run_id, state="done", finished=now_iso(), epoch=result.epochs_run)
    return summary


def _dataset(store: RunStore, spec: Any, fp: str) -> Any:
    if spec.data.source == "task":  # generated from the spec, no prices stored
        from core import tasks

        return tasks.make_task_dataset(spec.data)
    from core import dataset

    return dataset.make_dataset(store.load_prices(fp), spec.data)


def _finish(
    store: RunStore, run_id: str, spec: Any, ds: Any, result: Any, spent: dict[str, float]
) -> dict[str, Any]:
    from core import models, training

    store.write_status(run_id, phase="evaluating on the test split")
    with phases.Timer() as eval_t:
        from core import evaluation  # scipy: ~1 s the first time, inside the phase it serves

        preds = {n: training.predict(result.model, getattr(ds, n).x) for n in dataset_splits()}
        if spec.data.source == "task":
            from core import tasks

            metrics, frame = tasks.evaluate_task(ds, preds)  # no prices: MSE vs training mean
        else:
            metrics, frame = evaluation.evaluate(ds, preds)
    store.write_status(run_id, phase="saving the run")
    with phases.Timer() as save_t:
        store.write_predictions(run_id, frame)
        # With "kept": the probe of the weights the model keeps, taken after training ended.
        store.write_json(run_id, "gradients_through_time.json", result.gradients_through_time)
        with store.atomic_path(store.model_path(run_id)) as tmp:
            training.save_model(result.model, tmp)
    spent = phases.ordered({**spent, "evaluation": eval_t.seconds, "save": save_t.seconds})
    eligible, reasons = models.cudnn_eligible(spec.model)
    return store.write_summary(
        run_id,
        {
            "run_id": run_id,
            "metrics": metrics,  # test split: model, naive baseline, skill, lag check
            "params": result.params,
            "train_seconds": result.train_seconds,
            "samples_per_second": result.samples_per_second,
            # Where the time went (core/phases.py), and speed labelled by what it counts:
            "phases": spent,
            **phases.throughput(
                len(ds.train.x), result.epochs_run, result.steady_samples_per_second, spent
            ),
            "compile": result.compile,
            "best_epoch": result.best_epoch,
            # Of the weights model.keras keeps (core/gates.py, docs/ARCHITECTURE.md):
            "memory_horizon": result.memory_horizon,
            "kept_gates": result.kept_gates,
            "initial_gates": result.initial_gates,
            "epochs_run": result.epochs_run,
            "device": result.device.get("name"),
            "mixed_precision": result.device.get("mixed_precision", False),
            "backend": result.device.get("backend", "tensorflow"),
            "wavefront": result.wavefront,
            "cudnn_eligible": eligible,
            "cudnn_reasons": reasons,
            "n_windows": {name: len(getattr(ds, name).y) for name in dataset_splits()},
            "finished": now_iso(),
            **_placement(store.status(run_id)),
        },
    )


def _placement(status: Mapping[str, Any]) -> dict[str, Any]:
    """Which executor trained the run, and on which host/node/GPU (Ray records the node)."""
    keys = ("host", "node_id", "node_ip", "gpu_ids")
    # The niceness it trained at: a Ray worker's default, 15, starves training on a busy box.
    return {
        "executor": status.get("executor") or "local",
        **{k: status.get(k) for k in keys},
        "niceness": os.nice(0),
    }


def dataset_splits() -> tuple[str, ...]:
    from core.dataset import SPLITS

    return SPLITS


def main(argv: list[str] | None = None) -> int:
    """``python -m core.worker RUN_DIR``: train that queued run; exit 0 if it ended done.
    ``python -m core.worker --serve STORE``: a warm worker (core/worker_pool.py)."""
    import sys
    from pathlib import Path

    from core.config import check_run_id

    args = sys.argv[1:] if argv is None else argv
    if argv is None:  # a worker process of its own: the kernel's OOM killer takes it first
        worker_limits.prefer_for_oom_killer()
    log: Log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if len(args) == 2 and args[0] == "--serve":
            return _serve(RunStore(args[1]), log)
        if len(args) != 1:
            raise UserError("usage: python -m core.worker RUN_DIR | --serve STORE")
        path = Path(args[0])
        rid = check_run_id(path.name)
        if not path.is_dir():  # before RunStore(), which would create the parent folder
            raise UserError(f"no run directory {path}: submit the run first")
        store = RunStore(path.parent)
        execute(store, rid, log)
    except UserError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0 if store.status(rid).get("state") == "done" else 1


def _serve(store: RunStore, log: Log) -> int:
    from core import executor_local, worker_pool

    why = worker_pool.serve(store, log)
    log(f"warm worker leaves: {why}")
    if why == "recycled" and worker_pool.pending(store):
        executor_local.spawn_worker(store)  # nobody else may be watching the queue
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
