"""Two model.fit calls in lockstep: the fair way to time ours against plain on a shared CPU.

On this 2-core VM the machine's speed drifts by +-10 % from one second to the next, so two
fits timed one after the other disagree by that much even when they do the same work, and
a difference of 1-2 % (what the gradient diagnostics cost) drowns. Here each fit runs in
its own thread and they take turns: a fit runs 8 steps (one steps_per_execution call) or
its epoch end, hands the turn over and waits for it back. Both fits thus see the same
machine, slice by slice, every ~0.15 s; each one's clock runs only while it holds the turn.
Only one fit computes at a time, so neither slows the other.
"""

from __future__ import annotations

import threading
import time

import keras


class Turns:
    """Whose turn it is among named players, and the wall/CPU time each spent on turns."""

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        self.active = list(names)  # players still in the game
        self.turn = self.names[0]
        self.cond = threading.Condition()
        self.wall = dict.fromkeys(names, 0.0)
        self.cpu = dict.fromkeys(names, 0.0)
        self._since: tuple[float, float] = (0.0, 0.0)

    def wait(self, name: str) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.turn == name)
        self._since = (time.perf_counter(), time.process_time())

    def hand_over(self, name: str, leave: bool = False) -> None:
        wall, cpu = self._since
        self.wall[name] += time.perf_counter() - wall
        self.cpu[name] += time.process_time() - cpu
        with self.cond:
            if leave:
                self.active.remove(name)
            if self.active:
                i = self.names.index(name)
                following = self.names[i + 1 :] + self.names[: i + 1]
                self.turn = next(n for n in following if n in self.active)
            self.cond.notify_all()


class _Yield(keras.callbacks.Callback):
    """Hands the turn over after every call of the train function and every epoch end."""

    def __init__(self, turns: Turns, name: str) -> None:
        super().__init__()
        self.turns, self.name = turns, name

    def _switch(self) -> None:
        self.turns.hand_over(self.name)
        self.turns.wait(self.name)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._switch()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._switch()  # last callback: after the recorder's epoch-end work


def run(arms: dict[str, tuple], fit_kwargs: dict[str, dict], samples: int) -> dict:
    """{name: (wall samples/s, CPU samples/s)} for fits of the arms run in lockstep.

    arms: name -> (model, callbacks); fit_kwargs: name -> model.fit's arguments (data,
    epochs); samples: training samples each fit processes in all.
    """
    turns = Turns(list(arms))
    errors: list[BaseException] = []

    def play(name: str) -> None:
        model, callbacks = arms[name]
        turns.wait(name)
        try:
            cbs = [*callbacks, _Yield(turns, name)]
            model.fit(**fit_kwargs[name], callbacks=cbs, verbose=0)
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller's thread)
            errors.append(exc)
        finally:
            turns.hand_over(name, leave=True)

    threads = [threading.Thread(target=play, args=(n,), name=f"lockstep-{n}") for n in arms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return {n: (samples / turns.wall[n], samples / max(turns.cpu[n], 1e-9)) for n in arms}
