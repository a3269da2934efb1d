"""A stack of recurrent layers run as one loop in wavefront order: the CPU fast path.

Keras runs a stack of L recurrent layers as L loops of T dependent steps, one after the
other. Here layer l works one time step behind layer l-1: iteration k runs layer 0 on
x_k and layer l on the output layer l-1 produced in iteration k-1 (its step k-l). No cell
waits for another inside an iteration, so two layers take T+1 iterations of independent
work instead of 2T dependent ones, with half the loop overhead. On this project's 2-core
CPU that made the 2 x 64 task faster (`wavefront_gain` in docs/BENCHMARKS.md).

The math is the plain stack's, cell for cell (Keras' own cells do the work): the input
gets L-1 zero steps appended, layer l is held at its zero initial state while k < l, and
the last layer's final output is its step T-1. tests/test_wavefront.py checks outputs
and gradients against the plain stack with the same weights.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="gradlab")
class WavefrontCells(keras.layers.StackedRNNCells):
    """Keras cells (LSTMCell, GRUCell, SimpleRNNCell) as one wavefront cell for keras.layers.RNN.

    The state is each cell's state, then an iteration counter (B, 1). Cells keep the names
    they are given (rnn_0, rnn_1, ...): the gradient diagnostics report them by those names.
    """

    @property
    def state_size(self) -> list:
        return [cell.state_size for cell in self.cells] + [1]

    def get_initial_state(self, batch_size: Any = None) -> list:
        zeros = ops.zeros((batch_size, 1), dtype=self.compute_dtype)
        return super().get_initial_state(batch_size=batch_size) + [zeros]

    def call(self, inputs: Any, states: list, training: bool = False) -> tuple[Any, list]:
        *cell_states, count = states
        new_states = []
        for index, (cell, state) in enumerate(zip(self.cells, cell_states, strict=True)):
            # Layer l reads what layer l-1 output one iteration ago: its first state, h.
            x = inputs if index == 0 else _as_list(cell_states[index - 1])[0]
            _, state_new = cell(x, _as_list(state), training=training)
            state_new = _as_list(state_new)
            if index > 0:  # before its first step (count < index) a layer keeps its zero state
                started = ops.cast(count >= index, state_new[0].dtype)
                state_new = [s * started for s in state_new]
            new_states.append(state_new)
        return new_states[-1][0], new_states + [count + 1]


def _as_list(state: Any) -> list:
    return list(state) if isinstance(state, (list, tuple)) else [state]


def wavefront_stack(cells: list, name: str = "rnn_stack") -> Any:
    """x (B, T, F) -> the last cell's output at step T-1 (B, U), as the plain stack gives."""
    pad = keras.layers.ZeroPadding1D((0, len(cells) - 1), name=f"{name}_pad")
    rnn = keras.layers.RNN(WavefrontCells(cells, name=f"{name}_cells"), name=name)
    return lambda x: rnn(pad(x))
