"""Where a fit's time goes and what it is doing: named phases (build, probe, first epoch,
epochs, kept probe) timed on the wall clock and told to the sink (the run store's live
view), and batches done inside an epoch. core/training.py uses them."""

from __future__ import annotations

import time
from typing import Any

import keras


class Clock:
    """Wall seconds per named phase; tells the sink (if it listens) what is happening."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.seconds: dict[str, float] = {}
        self._name: str | None = None
        self._t0 = 0.0

    def phase(self, name: str, words: str) -> None:
        self.stop()
        self._name, self._t0 = name, time.perf_counter()
        if (on_phase := getattr(self.sink, "on_phase", None)) is not None:
            on_phase(name, words)

    def stop(self) -> None:
        if self._name is not None:
            self.seconds[self._name] = time.perf_counter() - self._t0
        self._name = None

    def batch(self, epoch: int, batch: int, steps: int) -> None:
        if (on_batch := getattr(self.sink, "on_batch", None)) is not None:
            on_batch(epoch, batch, steps)


class Progress(keras.callbacks.Callback):
    """Phases of fit (first epoch: compiling the step) and batches done inside an epoch."""

    def __init__(self, clock: Clock, steps: int, options: dict) -> None:
        super().__init__()
        self.clock, self.steps = clock, steps
        self.jit = "XLA-" if options.get("jit_compile") else ""
        self._epoch = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.clock.phase("first_epoch", f"compiling the {self.jit}model (first epoch)")

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch + 1
        if epoch == 1:
            self.clock.phase("epochs", "training")


class BatchProgress(Progress):
    """With a sink that shows batches: a batch hook makes Keras hand over logs each step,
    so it is added only where someone watches (never in bench/ or a sinkless fit)."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.clock.batch(self._epoch, min(batch + 1, self.steps), self.steps)
