"""core.models: cuDNN eligibility without keras, and the layer stack build_model makes."""

import subprocess
import sys

import numpy as np
import pytest

from core.config import ModelSpec
from core.errors import SpecError
from core.models import build_model, cudnn_eligible, param_count


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_default_gated_cells_are_cudnn_eligible(cell):
    assert cudnn_eligible(ModelSpec(cell=cell)) == (True, [])


def test_simple_rnn_has_no_cudnn_kernel_and_no_lost_choice():
    ok, reasons = cudnn_eligible(ModelSpec(cell="rnn", activation="relu", recurrent_dropout=0.2))
    assert not ok
    assert reasons == ["SimpleRNN has no fused cuDNN kernel"]


def test_each_lost_choice_is_a_reason():
    ok, reasons = cudnn_eligible(ModelSpec(cell="gru", activation="relu", recurrent_dropout=0.1))
    assert not ok
    assert len(reasons) == 2
    assert "activation 'relu'" in reasons[0] and "tanh" in reasons[0]
    assert "recurrent_dropout" in reasons[1]


def test_cudnn_eligible_does_not_import_keras():
    code = (
        "import sys; from core.config import ModelSpec; from core.models import cudnn_eligible;"
        "cudnn_eligible(ModelSpec()); "
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=".")


def test_stack_names_shapes_and_options():
    import keras

    from core.training import InstrumentedModel

    m = ModelSpec(cell="lstm", layers=3, units=4, dropout=0.2, unit_forget_bias=False)
    model = build_model(m, lookback=7, n_features=2, seed=1)
    assert isinstance(model, InstrumentedModel)
    names = [layer.name for layer in model.layers]
    assert names == ["x", "input_dropout", "rnn_0", "rnn_1", "rnn_2", "head"]
    rnns = [model.get_layer(f"rnn_{i}") for i in range(3)]
    assert [r.return_sequences for r in rnns] == [True, True, False]
    assert all(isinstance(r, keras.layers.LSTM) and not r.cell.unit_forget_bias for r in rnns)
    assert model.get_layer("head").dtype_policy.compute_dtype == "float32"
    assert model.input_shape == (None, 7, 2)
    assert model.output_shape == (None, 1)


def test_gru_resets_after_and_options_reach_the_cell():
    import keras

    m = ModelSpec(cell="gru", units=3, activation="relu", recurrent_dropout=0.25)
    model = build_model(m, lookback=5, n_features=1, seed=0)
    rnn = model.get_layer("rnn_0")
    assert isinstance(rnn, keras.layers.GRU)
    assert rnn.cell.reset_after
    assert rnn.cell.activation.__name__ == "relu"
    assert rnn.cell.recurrent_dropout == 0.25
    assert "input_dropout" not in [layer.name for layer in model.layers]


def test_simple_rnn_cell():
    import keras

    model = build_model(ModelSpec(cell="rnn", units=3), lookback=5, n_features=1, seed=0)
    assert isinstance(model.get_layer("rnn_0"), keras.layers.SimpleRNN)


def test_same_seed_same_weights_other_seed_other_weights():
    m = ModelSpec(cell="lstm", layers=2, units=4)
    a = build_model(m, 5, 1, seed=3).get_weights()
    b = build_model(m, 5, 1, seed=3).get_weights()
    c = build_model(m, 5, 1, seed=4).get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c, strict=True))
    # stacked layers must not share initial kernels although both are seeded
    assert not np.array_equal(a[1][:4, :4], a[4][:4, :4])


def test_invalid_spec_is_a_user_error():
    with pytest.raises(SpecError, match="cell must be one of"):
        build_model(ModelSpec(cell="lstn"), 5, 1, seed=0)


@pytest.mark.parametrize(
    "cell,layers,units,features",
    [("lstm", 1, 32, 1), ("gru", 1, 32, 1), ("rnn", 1, 32, 1), ("lstm", 2, 8, 5), ("gru", 3, 4, 2)],
)
def test_param_count_is_what_keras_builds(cell, layers, units, features):
    m = ModelSpec(cell=cell, layers=layers, units=units, dropout=0.1)
    model = build_model(m, lookback=5, n_features=features, seed=0, model_class=_keras_model())
    assert param_count(m, features) == model.count_params()


def test_default_model_sizes():
    # The figures the pages show for a default run (tests/fakes.py writes param_count's).
    counts = {c: param_count(ModelSpec(cell=c), 1) for c in ("lstm", "gru", "rnn")}
    assert counts == {"lstm": 4385, "gru": 3393, "rnn": 1121}


def _keras_model():
    import keras

    return keras.Model
