"""Recurrent models from a ModelSpec: Input (T, F) -> [Dropout] -> rnn_0..rnn_{L-1} -> head.

Layer names are fixed ("rnn_0", "rnn_1", ..., "head") because the gradient diagnostics
key their rows by them. Keras is imported only inside build_model so that asking whether
a spec is cuDNN-eligible (the UI does, on every rerun) stays free of TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.config import ModelSpec

if TYPE_CHECKING:
    import keras

_CELL_CLASS = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}

# Gate blocks of the recurrent kernel, in Keras' column order: (units, n_gates * units).
GATES = {"lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h"), "rnn": ("h",)}


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


def _rnn_layer(m: ModelSpec, index: int, seed: int, last: bool) -> Any:
    import keras

    # Distinct seeds per layer: an int-seeded initializer repeats its values on every call.
    kwargs: dict[str, Any] = {
        "units": m.units,
        "activation": m.activation,
        "recurrent_dropout": m.recurrent_dropout,
        "return_sequences": not last,
        "kernel_initializer": keras.initializers.GlorotUniform(seed=seed + 2 * index),
        "recurrent_initializer": keras.initializers.Orthogonal(seed=seed + 2 * index + 1),
        "name": f"rnn_{index}",
    }
    if m.recurrent_dropout > 0:
        kwargs["seed"] = seed + 1000 + index
    if m.cell == "lstm":
        kwargs["unit_forget_bias"] = m.unit_forget_bias
    return getattr(keras.layers, _CELL_CLASS[m.cell])(**kwargs)


def build_layers(m: ModelSpec, lookback: int, n_features: int, seed: int) -> tuple[Any, Any]:
    """The functional graph (inputs, outputs); build_model wraps it in a model class."""
    import keras

    inputs = keras.Input(shape=(lookback, n_features), name="x")  # (B, T, F)
    h = inputs
    if m.dropout > 0:
        h = keras.layers.Dropout(m.dropout, seed=seed + 999, name="input_dropout")(h)
    for i in range(m.layers):
        h = _rnn_layer(m, i, seed, last=i == m.layers - 1)(h)  # (B, T, U) then (B, U)
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
    m: ModelSpec, lookback: int, n_features: int, seed: int, model_class: Any = None
) -> keras.Model:
    """A fresh, seeded, uncompiled model; by default core.training.InstrumentedModel."""
    m.validate()
    if model_class is None:
        # Imported here, not at the top: core.training imports this module.
        from core.training import InstrumentedModel

        model_class = InstrumentedModel
    inputs, outputs = build_layers(m, lookback, n_features, seed)
    return model_class(inputs=inputs, outputs=outputs, name=f"{m.cell}_{m.layers}x{m.units}")
