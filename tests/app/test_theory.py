"""Theory page under AppTest: interactive, numpy only, and it states the right fact."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from core import theory
from tests.fakes import make_run

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "theory.py")


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _ys(trace: dict) -> np.ndarray:
    # Plotly serialises numpy arrays as typed base64 blobs; lists stay lists.
    y = trace["y"]
    if isinstance(y, dict):
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"]))
    return np.asarray(y, dtype=float)


def test_renders_and_states_that_the_radius_decides(store_root):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and not at.error
    text = " ".join(m.value for m in at.markdown)
    assert "The spectral radius decides, not the sign of the weights" in text
    assert "∂cₜ/∂cₜ₋₁ = fₜ" in text and "_{" not in text and "cannot bring back a gradient" in text
    assert "**the forget/update gate does**" in text  # the gated-cell story
    assert "LSTM and GRU much less" not in text  # the claim the data contradicts on returns
    assert "0.73⁴⁰ = **3.4×10⁻⁶**" in text  # the gate slider's arithmetic, computed
    assert any(b.label == "Run the memory preset" for b in at.button)
    power, tanh = _figures(at)
    assert [t["name"] for t in power["data"]] == ["W, ρ = 0.90", "same signs, ρ = 1.10"]
    assert power["layout"]["yaxis"]["type"] == "log" and tanh["layout"]["yaxis"]["type"] == "log"


def test_radius_slider_changes_the_figure(store_root):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    before = _ys(_figures(at)[0]["data"][0])
    at.slider(key="theory_rho").set_value(1.3).run()
    assert not at.exception
    after = _ys(_figures(at)[0]["data"][0])
    assert after[-1] > 1 > before[-1]
    np.testing.assert_allclose(after, theory.matrix_power_norms(1.3, 50, size=6, seed=0))


def test_weight_slider_changes_the_tanh_figure(store_root):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.slider(key="theory_w").set_value(0.5).run()
    tanh, linear = _figures(at)[1]["data"]
    np.testing.assert_allclose(_ys(tanh), theory.tanh_rnn_jacobian(0.5, 50, x_scale=0.5))
    np.testing.assert_allclose(_ys(linear), 0.5 ** np.arange(51))


def test_links_to_the_users_finished_runs(store_root):
    done = make_run(store_root, cell="rnn", seed=0)
    make_run(store_root, cell="lstm", seed=1, state="failed")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    # Outside the router st.page_link falls back to a plain link carrying ?run=<id>.
    links = [m.value for m in at.markdown if "?run=" in m.value]
    assert len(links) == 1 and f"run={done}" in links[0]


def test_no_runs_points_to_train(store_root):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert any("No finished runs yet" in i.value for i in at.info)
