"""The router and Home: every page renders on an empty and a full store; the sidebar works."""

import base64
import json
import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.fakes import make_run, run_fresh_python

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
MY_PAGES = ("pages/home.py", "pages/train.py", "pages/compare.py", "pages/runs.py")


def open_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60).run()


def sidebar_text(at: AppTest) -> str:
    parts = [m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]
    return " ".join(parts)


def test_home_on_an_empty_store(store_root):
    st.cache_resource.clear()
    at = open_app()
    assert not at.exception and not at.error
    assert at.title[0].value == "Gradient Lab"
    # bundled ^GSPC on screen at once, as a static SVG: the first page loads no plotly.js
    assert not at.get("plotly_chart")
    (image,) = at.get("image")
    svg = base64.b64decode(image.proto.imgs[0].url.split(",", 1)[1]).decode()
    assert svg.startswith("<svg") and "<polyline" in svg and ">2008</text>" in svg
    assert "from 1999-01-04 to 2018-12-31 (5,031 trading days), drawn as" in " ".join(
        c.value for c in at.caption
    )
    assert any("No runs yet" in i.value for i in at.info)
    labels = [p.proto.label for p in at.get("page_link")]
    assert "**Train a model**" in labels and "**Why gradients vanish**" in labels
    text = sidebar_text(at)
    assert "Training device:** CPU" in text  # conftest hides GPUs from the workers
    assert "No jobs running or queued." in text


@pytest.mark.parametrize("page", MY_PAGES)
def test_every_page_renders_on_empty_and_full_store(store_root, page):
    at = open_app().switch_page(page).run()
    assert not at.exception and not at.error, (page, [e.value for e in at.error])
    for cell in ("lstm", "gru"):
        make_run(store_root, cell=cell, seed=0)
    make_run(store_root, cell="rnn", seed=0, state="failed")
    make_run(store_root, cell="gru", seed=3, state="diverged")
    at.run()
    assert not at.exception and not at.error, (page, [e.value for e in at.error])


def test_home_lists_recent_runs_and_sidebar_shows_the_queue(store_root):
    done = make_run(store_root, cell="gru", seed=1)
    running = make_run(store_root, cell="lstm", seed=2, epochs=6, state="running")
    at = open_app()
    assert not at.exception
    queries = [p.proto.query_string for p in at.get("page_link")]
    assert f"run={done}" in queries and f"run={running}" in queries
    bars = at.sidebar.get("progress")
    assert len(bars) == 1
    assert bars[0].proto.value == 50  # 3 of 6 epochs
    assert "epoch 3/6" in bars[0].proto.text and "seed 2" in bars[0].proto.text
    # the finished run, and only it, against the naive forecast
    (chart,) = at.get("plotly_chart")
    (bars_trace,) = json.loads(chart.proto.spec)["data"]
    assert bars_trace["y"] == [f"GRU 1×32 · ^GSPC · Jan 2015 – Dec 2015 · seed 1 · {done[:6]}"]
    assert len(bars_trace["x"]) == 1 and isinstance(bars_trace["x"][0], float)


def test_sidebar_names_the_gpu_from_nvidia_smi(store_root, tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    st.cache_resource.clear()
    at = open_app()
    st.cache_resource.clear()  # the next test must probe again
    assert "Training device:** NVIDIA H100 80GB HBM3" in sidebar_text(at)


NO_TF_SCRIPT = """
import sys
from streamlit.testing.v1 import AppTest
from tests.fakes import make_run
root = sys.argv[1]
for cell in ("lstm", "gru"):
    make_run(root, cell=cell, seed=0)
at = AppTest.from_file(sys.argv[2], default_timeout=60).run()
for page in sys.argv[3:]:
    at.switch_page(page).run()
    assert not at.exception, page
heavy = sorted(m for m in ("tensorflow", "keras", "yfinance") if m in sys.modules)
print("HEAVY", heavy)
"""


@pytest.mark.slow
def test_the_server_never_loads_tensorflow(store_root):
    env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    args = [str(store_root), str(APP), *MY_PAGES]
    stdout = run_fresh_python(NO_TF_SCRIPT, args, env, timeout=240)
    assert "HEAVY []" in stdout


def test_a_malformed_cache_budget_is_one_clear_message_on_every_page(store_root, monkeypatch):
    monkeypatch.setenv("GRADLAB_CACHE_BUDGET_MB", "2GB")
    at = open_app()
    assert not at.exception
    assert any("GRADLAB_CACHE_BUDGET_MB must be a positive number" in e.value for e in at.error)
