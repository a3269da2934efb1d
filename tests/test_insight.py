"""The words a run gets are built from its numbers: different numbers, different words."""

from core import insight

SPEC = {"data": {"source": "sample", "lookback": 30}, "model": {"cell": "gru"}}
TASK = {"data": {"source": "task", "lookback": 50, "lag": 40}, "model": {"cell": "rnn"}}


def _gtt(norms):
    return {"norms": [norms], "kept": {"norms": norms}}


def test_gradient_as_a_power_of_ten_and_underflow():
    norms = [1.0] + [1e-3] * 39 + [2e-15] + [0.0] * 9
    words = insight.run_sentences(TASK, {"memory_horizon": 12}, _gtt(norms))
    assert words[0].startswith("The gradient 40 steps back is 10⁻¹⁵ of the last step's")
    assert words[0].endswith("(2×10⁻¹⁵).") and "e-" not in words[0]  # no computer notation
    assert "Memory horizon 12 steps" in words[1] and "cannot learn from them" in words[1]
    zero = insight.gradient_sentence([1.0, 0.0], 1, "steps")
    assert "exactly 0 in float32" in zero


def test_gate_near_its_start_is_said_only_when_it_is():
    summary = {
        "memory_horizon": 5,
        "kept_gates": {"rnn_0": {"update": 0.51, "reset": 0.5, "holding": 0.0, "step_factor": 0.6}},
        "initial_gates": {"rnn_0": {"update": 0.50, "reset": 0.5}},
    }
    words = " ".join(insight.run_sentences(SPEC, summary, _gtt([1.0] * 30)))
    assert "update gate averages 0.51, near its starting value 0.50" in words
    assert "training left its mean where it began" in words
    assert "~0.60 of itself" in words and "days" in words
    summary["kept_gates"]["rnn_0"]["update"] = 0.93
    words = " ".join(insight.run_sentences(SPEC, summary, _gtt([1.0] * 30)))
    assert "near its starting value" not in words and "moved from 0.50" in words


def test_whole_window_horizon_and_task_skill():
    spec = {**TASK, "model": {"cell": "lstm"}}
    summary = {"memory_horizon": 49, "metrics": {"skill": 0.97}}
    words = insight.run_sentences(spec, summary, _gtt([1.0] * 50))
    assert any("every one of the 50 input steps" in w for w in words)
    assert any("Test skill +0.970" in w for w in words)
    summary["metrics"]["skill"] = -0.01
    assert any(
        "no better than predicting the training mean" in w
        for w in insight.run_sentences(spec, summary, _gtt([1.0] * 50))
    )


def test_preset_sentence_compares_horizon_with_the_lag():
    c = {"learning_rate": 0.03, "done": 3, "seeds": 3, "skill": {"mean": 0.0, "std": 0.01},
         "memory_horizon": {"mean": 6.7, "std": 1.2}, "step_factor": {"mean": 0.32, "std": 0.1},
         "log10_gradient_ratio": {"mean": -25.1, "std": 17.0}}  # fmt: skip
    text = insight.preset_sentence("rnn", c, 40)
    assert "does not recall" in text and "falls short of the lag 40" in text
    assert "10⁻²⁵ of the last step's" in text


def test_prices_gates_at_start_beside_a_naive_forecast_say_so():
    summary = {
        "metrics": {"skill": 0.0009, "verdict_vs_naive": "not distinguishable from tomorrow = "
                    "today (p = 0.896)"},
        "kept_gates": {"rnn_0": {"update": 0.50}}, "initial_gates": {"rnn_0": {"update": 0.50}},
    }  # fmt: skip
    words = insight.run_sentences(SPEC, summary, _gtt([1.0] * 30))
    assert words[-1].startswith(
        "Its update gates stayed where they started and the forecast is "
        "not distinguishable from tomorrow = today (p = 0.896)"
    )
    summary["kept_gates"]["rnn_0"]["update"] = 0.8
    assert "stayed where they started" not in " ".join(
        insight.run_sentences(SPEC, summary, _gtt([1.0] * 30))
    )


def test_preset_sentence_for_a_cell_that_learned():
    c = {"learning_rate": 0.001, "done": 3, "seeds": 3, "skill": {"mean": 0.993, "std": 0.003, "n": 3},
         "memory_horizon": {"mean": 49.0, "std": 0.0}, "step_factor": {"mean": 1.0, "std": 0.01},
         "log10_gradient_ratio": {"mean": 1.0, "std": 0.3}}  # fmt: skip
    text = insight.preset_sentence("lstm", c, 40)
    assert "test skill +0.99 ± 0.00: it recalls" in text and "reaches the lag 40" in text
    assert "is 10 times the last step's" in text


def test_small_and_large_numbers_are_written_with_powers_of_ten():
    from core.fmt import sci

    assert [sci(v) for v in (0.25, 8.6e-12, 1e-5, -2.5e-7, 0, None)] == [
        "0.25", "8.6×10⁻¹²", "10⁻⁵", "-2.5×10⁻⁷", "0", "–",
    ]  # fmt: skip
