"""Results cards follow the verdict against tomorrow = today: no green for noise (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from core.runs import RunStore
from tests.fakes import make_run

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "results.py")
GREEN, RED, GRAY = Metric.MetricColor.GREEN, Metric.MetricColor.RED, Metric.MetricColor.GRAY


def _with(store_root, **metrics) -> AppTest:
    rid = make_run(store_root, cell="gru", seed=0)
    store = RunStore(store_root)
    summary = store.summary(rid)
    summary["metrics"].update(metrics)
    store.write_summary(rid, summary)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["run"] = rid
    return at.run()


def _card(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


@pytest.mark.parametrize(
    ("skill", "p", "rmse", "words", "colour"),
    [
        (0.02, 0.012, 9.8, "beats naive", GREEN),
        (0.0018, 0.58, 9.98, "not significant", GRAY),
        (-0.03, 0.004, 10.3, "worse than naive", RED),
        (0.0, 1.0, 10.0, "equal to naive", GRAY),
    ],
    ids=["significant win", "insignificant positive", "loss", "exact zero"],
)
def test_skill_and_error_cards_follow_the_verdict(store_root, skill, p, rmse, words, colour):
    at = _with(
        store_root,
        skill=skill,
        rmse=rmse,
        naive_rmse=10.0,
        dm_vs_naive={"stat": -1.0 if skill > 0 else 1.0, "p_value": p},
        verdict_vs_naive="(from the summary)",
    )
    assert not at.exception
    skill_card = _card(at, "Skill vs naive")
    assert skill_card.delta == words and skill_card.proto.color == colour
    # the badge is short (st.metric cuts a long delta); the whole verdict is in its help
    assert skill_card.proto.help.endswith("This run: (from the summary).")
    rmse_card = _card(at, "RMSE")
    assert rmse_card.proto.color == colour  # a zero or insignificant delta is never green
    if rmse == 10.0:
        assert rmse_card.delta == "+0.00 vs naive"


def test_direction_card_compares_with_the_majority_direction(store_root):
    at = _with(store_root, directional_accuracy=0.52, direction_baseline=0.541,
               direction_p_value=0.4)  # fmt: skip
    card = _card(at, "Directional accuracy")
    assert card.delta == "-2.1 pts vs majority (54.1%)" and card.proto.color == GRAY
    assert "coin flip" not in card.delta


def test_a_run_stored_before_the_verdicts_gets_them_from_its_predictions(store_root):
    rid = make_run(store_root, cell="lstm", seed=1)
    store = RunStore(store_root)
    summary = store.summary(rid)
    for key in ("direction_baseline", "direction_p_value", "dm_vs_naive", "verdict_vs_naive"):
        summary["metrics"].pop(key)
    store.write_summary(rid, summary)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["run"] = rid
    at.run()
    assert not at.exception and not at.error
    assert "vs majority" in _card(at, "Directional accuracy").delta
    assert any("Against tomorrow = today:" in c.value and "(p = " in c.value for c in at.caption)


def _gradients_tab(store_root, kept: bool, patience: int | None = None, probed: int = 6):
    """A 5-epoch LSTM run whose best epoch is 3; kept: the run recorded gtt["kept"];
    probed: how many per-epoch probes (epochs 0, 1, ...) gradients_through_time.json keeps."""
    rid = make_run(store_root, cell="lstm", seed=2, epochs=5)
    store = RunStore(store_root)
    summary = store.summary(rid)
    summary["best_epoch"] = 3
    store.write_summary(rid, summary)
    gtt = store.gradients_through_time(rid)
    gtt["epochs"], gtt["norms"] = gtt["epochs"][:probed], gtt["norms"][:probed]
    if kept:
        gtt["kept"] = {"epoch": 3, "norms": gtt["norms"][3], "memory_horizon": None}
    store.write_json(rid, "gradients_through_time.json", gtt)
    if patience is not None:
        record = store.record(rid)
        record["spec"]["train"]["patience"] = patience
        store.write_json(rid, "spec.json", record)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["run"] = rid
    return at.run()


def _titles(at: AppTest) -> list[str]:
    import json

    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_charts_show_the_kept_weights_by_default_and_mark_the_best_epoch(store_root):
    at = _gradients_tab(store_root, kept=True)
    assert not at.exception
    radio = at.radio(key="res_gtt_which")
    assert radio.value == "weights kept (best epoch 3)"
    assert "Gradient through time, weights kept (best epoch 3)" in _titles(at)
    radio.set_value("last epoch").run()
    assert "Gradient through time, last epoch" in _titles(at)
    import json

    loss = next(c for c in at.get("plotly_chart") if "Loss" in _titles_of(c))
    shapes = json.loads(loss.proto.spec)["layout"].get("shapes", [])
    assert any(s.get("x0") == 3 and s.get("x1") == 3 for s in shapes)  # best epoch marked


def _titles_of(chart) -> str:
    import json

    return json.loads(chart.proto.spec)["layout"]["title"]["text"]


def _chart_y(at: AppTest, title: str) -> list:
    import base64
    import json

    import numpy as np

    chart = next(c for c in at.get("plotly_chart") if _titles_of(c) == title)
    y = json.loads(chart.proto.spec)["data"][0]["y"]
    if isinstance(y, dict):  # plotly's typed array: base64 of the values
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    return y


def test_a_run_without_a_kept_record_shows_the_best_epochs_own_probe(store_root):
    # Runs written before gtt["kept"] existed: the probe after epoch 3 is of the same weights.
    at = _gradients_tab(store_root, kept=False)
    assert not at.exception
    assert at.radio(key="res_gtt_which").value == "weights kept (best epoch 3)"
    assert not any("recorded no probe" in c.value for c in at.caption)
    norms = RunStore(store_root).gradients_through_time(at.query_params["run"])["norms"]
    shown = _chart_y(at, "Gradient through time, weights kept (best epoch 3)")
    assert shown == pytest.approx(norms[3])
    assert shown != pytest.approx(norms[5])  # not the last epoch's


def test_without_early_stopping_the_kept_weights_are_the_last_epochs(store_root):
    at = _gradients_tab(store_root, kept=False, patience=0)
    assert not at.exception
    assert at.radio(key="res_gtt_which").value == "weights kept (last epoch 5)"


def test_without_a_probe_of_the_kept_epoch_the_caption_says_which_epoch_is_shown(store_root):
    at = _gradients_tab(store_root, kept=False, probed=3)  # probes of epochs 0, 1, 2 only
    assert not at.exception
    assert any(
        "recorded no probe of the weights kept (best epoch 3): the right-hand chart shows the "
        "last epoch probed (2), not epoch 3." in c.value
        for c in at.caption
    )
