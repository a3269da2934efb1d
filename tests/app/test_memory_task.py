"""The memory task source on Train, the preset button, and words on Results for a task run."""

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    return at.switch_page(page).run()


def test_lag_at_or_beyond_t_is_an_st_error_and_nothing_is_written(store_root):
    at = open_page("pages/train.py")
    at.radio(key="train_source").set_value("Memory task").run()
    assert not at.exception and not at.error  # lag 20 < lookback 30: a valid spec
    at.number_input(key="train_task_lag").set_value(40).run()
    assert not at.exception
    assert any("set lookback to at least 41" in e.value for e in at.error)
    at.button(key="train_submit").click().run()
    assert not at.exception
    assert not [p for p in store_root.iterdir() if not p.name.startswith("_")]


def test_home_offers_the_memory_preset(store_root):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert any(b.label == "Run the memory preset" for b in at.button)


def test_results_of_a_task_run_show_cards_and_words_from_its_numbers(store_root):
    from tests.fakes import make_run

    rid = make_run(store_root, cell="rnn")
    run = store_root / rid
    record = json.loads((run / "spec.json").read_text())
    record["spec"]["data"].update(source="task", task="marked-memory", lag=8, lookback=12,
                                  n_train=2000, n_val=500, n_test=500, task_seed=0)  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    summary["metrics"] = {"mse": 0.99, "baseline_mse": 1.0, "naive_rmse": 1.0, "skill": 0.01,
                          "baseline": "training mean", "n": 500}  # fmt: skip
    summary.update(memory_horizon=3, kept_gates={"rnn_0": {"tanh_slope": 0.42,
                   "saturated": 0.31, "step_factor": 0.35}})  # fmt: skip
    gtt = {"lags": list(range(12)), "epochs": [0], "norms": [[1.0] * 12],
           "kept": {"epoch": 1, "norms": [1.0, 0.1, 0.01, 0.002] + [1e-9] * 8, "memory_horizon": 3}}  # fmt: skip
    (run / "spec.json").write_text(json.dumps(record))
    (run / "gradients_through_time.json").write_text(json.dumps(gtt))
    from core.runs import RunStore

    RunStore(store_root).write_summary(rid, summary)  # checksums stay valid
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.query_params["run"] = rid
    at.switch_page("pages/results.py").run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Skill vs training mean" in labels and "Memory horizon" in labels
    text = " ".join(m.value for m in at.markdown)
    assert "The gradient 8 steps back is 10⁻⁹ of the last step's" in text
    assert "Memory horizon 3 steps" in text and "33% of its units" not in text
    assert "31% of its units are saturated" in text
    assert "no better than predicting the training mean" in text
