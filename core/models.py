"""Recurrent models from a ModelSpec: Input (T, F) -> [Dropout] -> rnn_0..rnn_{L-1} -> head.

Layer names are fixed ("rnn_0", "rnn_1", ..., "head") because the gradient diagnostics
key their rows by them; in a wavefront stack (core/wavefront.py, the CPU fast path) the
cells inside the one "rnn_stack" layer carry the names rnn_0, rnn_1, ... Keras is imported only inside build_model so that asking whether
a spec is cuDNN-eligible (the UI does, on every rerun) stays free of TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.cells import CELL_NAMES as _CELL_CLASS
from core.cells import GATES as GATES  # re-exported: the gradient rows key by it
from core.config import ModelSpec

if TYPE_CHECKING:
    import keras


def param_count(m: ModelSpec, n_features: int) -> int:
    """What build_model(m, ..., n_features).count_params() returns, without Keras: the gate
    blocks of each recurrent layer (kernel, recurrent kernel, bias; Keras' GRU keeps two bias
    rows, reset_after=True) plus the Dense(1) head. Dropout has no weights."""
    gates = len(GATES[m.cell])
    total, inputs = 0, n_features
    for _ in range(m.layers):
        biases = 2 if m.cell == "gru" else 1
        total += gates * m.units * (inputs + m.units + biases)
        inputs = m.units
    return total + m.units + 1


def cudnn_eligible(m: ModelSpec) -> tuple[bool, list[str]]:
    """Whether Keras can run this spec on the fused cuDNN kernel, and if not, why.

    Keras takes the fast path only with tanh activation, sigmoid recurrent activation,
    no recurrent dropout, no unrolling, biases on and (GRU) reset_after=True. We always
    build with the last four defaults except recurrent_dropout, so only activation and
    recurrent_dropout can cost the fast path. SimpleRNN never had one: that is a fact of
    the cell, not a setting the user lost, so it is the only reason given for it.
    """
    if m.cell == "rnn":
        return False, ["SimpleRNN has no fused cuDNN kernel"]
    reasons = []
    if m.activation != "tanh":
        reasons.append(
            f"activation {m.activation!r} is not 'tanh': set it to tanh for the fused cuDNN kernel"
        )
    if m.recurrent_dropout > 0:
        reasons.append(
            f"recurrent_dropout {m.recurrent_dropout} is above 0: set it to 0 (use input "
            "dropout instead) for the fused cuDNN kernel"
        )
    return not reasons, reasons


def use_wavefront(m: ModelSpec, gpu: bool) -> bool:
    """Whether to run the stack as one wavefront loop (core/wavefront.py) rather than layers.

    On a CPU for two or more layers: faster, same math (wavefront_gain, docs/BENCHMARKS.md). Not on a GPU, where
    TensorFlow runs each LSTM/GRU layer on the fused cuDNN kernel, and not with recurrent
    dropout, whose per-batch masks Keras draws per recurrent layer, not per stacked cell.
    """
    return not gpu and m.layers > 1 and m.recurrent_dropout == 0


def _cell_kwargs(m: ModelSpec, index: int, seed: int) -> dict[str, Any]:
    import keras

    # Distinct seeds per layer: an int-seeded initializer repeats its values on every call.
    kwargs: dict[str, Any] = {
        "units": m.units,
        "activation": m.activation,
        "recurrent_dropout": m.recurrent_dropout,
        "kernel_initializer": keras.initializers.GlorotUniform(seed=seed + 2 * index),
        "recurrent_initializer": keras.initializers.Orthogonal(seed=seed + 2 * index + 1),
        "name": f"rnn_{index}",
    }
    if m.recurrent_dropout > 0:
        kwargs["seed"] = seed + 1000 + index
    if m.cell == "lstm":
        kwargs["unit_forget_bias"] = m.unit_forget_bias
    return kwargs


def _rnn_layer(m: ModelSpec, index: int, seed: int, last: bool) -> Any:
    import keras

    kwargs = _cell_kwargs(m, index, seed)
    return getattr(keras.layers, _CELL_CLASS[m.cell])(return_sequences=not last, **kwargs)


def _rnn_stack(m: ModelSpec, seed: int, wavefront: bool) -> Any:
    """x (B, T, F) -> (B, U): the recurrent layers, as separate layers or one wavefront loop."""
    import keras

    if wavefront:
        from core.wavefront import wavefront_stack

        cell = getattr(keras.layers, _CELL_CLASS[m.cell] + "Cell")
        return wavefront_stack([cell(**_cell_kwargs(m, i, seed)) for i in range(m.layers)])
    layers = [_rnn_layer(m, i, seed, last=i == m.layers - 1) for i in range(m.layers)]

    def stack(h: Any) -> Any:
        for layer in layers:
            h = layer(h)  # (B, T, U) then, from the last layer, (B, U)
        return h

    return stack


def build_layers(
    m: ModelSpec, lookback: int, n_features: int, seed: int, wavefront: bool = False
) -> tuple[Any, Any]:
    """The functional graph (inputs, outputs); build_model wraps it in a model class."""
    import keras

    inputs = keras.Input(shape=(lookback, n_features), name="x")  # (B, T, F)
    h = inputs
    if m.dropout > 0:
        h = keras.layers.Dropout(m.dropout, seed=seed + 999, name="input_dropout")(h)
    if wavefront and not use_wavefront(m, gpu=False):
        raise ValueError("a wavefront stack needs 2+ layers and no recurrent dropout")
    h = _rnn_stack(m, seed, wavefront)(h)
    # float32 head: under mixed_float16 the prediction and the loss stay full precision.
    head = keras.layers.Dense(
        1,
        dtype="float32",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 500),
        name="head",
    )
    outputs = head(h)  # (B, 1)
    return inputs, outputs


def build_model(
    m: ModelSpec,
    lookback: int,
    n_features: int,
    seed: int,
    model_class: Any = None,
    wavefront: bool = False,
) -> keras.Model:
    """A fresh, seeded, uncompiled model; by default core.training.InstrumentedModel.

    wavefront=True (see use_wavefront) builds the same network, same initial weights, with
    its recurrent layers as one loop: one "rnn_stack" layer whose cells are rnn_0, rnn_1, ...
    """
    m.validate()
    if model_class is None:
        # Imported here, not at the top: core.training imports this module.
        from core.training import InstrumentedModel

        model_class = InstrumentedModel
    inputs, outputs = build_layers(m, lookback, n_features, seed, wavefront)
    return model_class(inputs=inputs, outputs=outputs, name=f"{m.cell}_{m.layers}x{m.units}")
