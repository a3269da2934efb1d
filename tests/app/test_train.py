"""Train page: renders, validates uploads, and trains one small real run end to end."""

import datetime as dt
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import jobs
from core.data_csv import MAX_CSV_BYTES  # the limit pages/train.py enforces
from core.runs import RunStore
from tests.fakes import make_run

APP = Path(__file__).resolve().parents[2] / "app.py"


def open_train() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    return at.switch_page("pages/train.py").run()


def use_csv(at: AppTest, content: bytes) -> AppTest:
    at.radio(key="train_source").set_value("CSV upload").run()
    at.file_uploader(key="train_csv").set_value(("prices.csv", content, "text/csv"))
    return at.run()


def csv_bytes(n: int = 300) -> bytes:
    dates = pd.bdate_range("2012-01-02", periods=n)
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n)))
    return (
        pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "close": close})
        .to_csv(index=False)
        .encode()
    )


def test_renders_bundled_data_with_split_preview(store_root):
    at = open_train()
    assert not at.exception and not at.error
    assert at.selectbox(key="train_sample_ticker").value == "^GSPC"
    assert len(at.get("plotly_chart")) == 1  # the preview with train/val/test shading
    assert not any("cuDNN" in i.value for i in at.info)  # LSTM keeps the fused kernel
    at.selectbox(key="train_cell").set_value("rnn")
    at.run()  # inside a form nothing changes until it is submitted
    assert not any("cuDNN" in i.value for i in at.info)


def test_csv_upload_too_big_or_malformed_is_a_clear_error(store_root):
    at = use_csv(open_train(), b"date,close\n" + b"2020-01-01,1\n" * (MAX_CSV_BYTES // 13 + 1))
    assert not at.exception
    assert f"the limit is {MAX_CSV_BYTES // 2**20} MB" in at.error[0].value
    at = use_csv(open_train(), b"\x00\x01 this is not a price file")
    assert not at.exception
    assert at.error and "Traceback" not in at.error[0].value


def test_csv_upload_previews_and_names_its_hash(store_root):
    at = use_csv(open_train(), csv_bytes())
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 1
    at.number_input(key="train_epochs").set_value(1)
    at.button(key="train_submit").click().run()
    store = RunStore(store_root)
    try:
        assert not at.exception and not at.error
        spec = store.spec(at.session_state["train_run_id"])
        # The run is named by the upload's content: same bytes, same hash, same cache entry.
        assert spec.data.source == "csv"
        assert spec.data.csv_sha256 == hashlib.sha256(csv_bytes()).hexdigest()
    finally:  # the submit queued a real worker: stop it
        for job in jobs.queue(store):
            jobs.cancel(job["run_id"], store)


def test_finished_run_shows_metrics_and_results_link(store_root):
    rid = make_run(store_root, cell="gru", seed=2)
    at = open_train()
    at.session_state["train_run_id"] = rid
    at.run()
    assert not at.exception
    assert any(s.value == "Training finished." for s in at.success)
    assert [m.label for m in at.metric][:3] == ["Test RMSE (price)", "Naive RMSE", "Skill vs naive"]
    link = at.get("page_link")[-1]
    assert link.proto.query_string == f"run={rid}"


def test_a_finished_run_leaves_its_results_figures_built(store_root, monkeypatch):
    # The Train page builds what Results shows once its own view is sent: opening Results
    # from its link then builds no figure (here counted on the predictions chart).
    from core import plots

    built = []
    real = plots.predictions_chart
    monkeypatch.setattr(
        plots, "predictions_chart", lambda *a, **k: built.append(1) or real(*a, **k)
    )
    rid = make_run(store_root, cell="lstm", seed=5)
    at = open_train()
    at.session_state["train_run_id"] = rid
    at.run()
    assert not at.exception and len(built) == 1
    at.query_params["run"] = rid
    at.switch_page("pages/results.py").run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) >= 4 and len(built) == 1


@pytest.mark.slow
def test_submit_a_small_run_and_watch_it_finish(store_root):
    at = open_train()
    at.date_input(key="train_dates_sample").set_value((dt.date(2017, 1, 1), dt.date(2018, 12, 31)))
    at.run()
    at.number_input(key="train_lookback").set_value(10)
    at.number_input(key="train_units").set_value(4)
    at.number_input(key="train_epochs").set_value(1)
    at.selectbox(key="train_cell").set_value("rnn")
    at.button(key="train_submit").click().run()
    assert not at.exception and not at.error
    assert any("SimpleRNN has no fused cuDNN kernel" in i.value for i in at.info)
    rid = at.session_state["train_run_id"]
    deadline = time.monotonic() + 540  # a bound for a saturated box, inside the 600 s timeout
    while RunStore().status(rid).get("state") in ("queued", "running"):
        assert time.monotonic() < deadline, "the 1-epoch run did not finish in 540 s"
        time.sleep(1.0)
        at.run()
        assert not at.exception
    at.run()
    assert RunStore().status(rid)["state"] == "done", RunStore().status(rid)
    assert any(s.value == "Training finished." for s in at.success)
    assert float(at.metric[0].value) > 0  # test RMSE in price units
    # The same submission again is a cache hit: nothing retrains.
    at.button(key="train_submit").click().run()
    assert at.session_state["train_run_id"] == rid
    assert any(s.value.startswith("Served from the run store: trained before") for s in at.success)
    at.query_params["run"] = rid
    at.switch_page("pages/results.py").run()
    assert not at.exception


@pytest.mark.parametrize(
    ("key", "value"), [("train_rec_dropout", 0.2), ("train_activation", "relu")]
)
def test_a_choice_that_loses_cudnn_is_noted(store_root, key, value):
    at = open_train()
    assert not any("cuDNN" in i.value for i in at.info)
    widget = at.slider(key=key) if key == "train_rec_dropout" else at.selectbox(key=key)
    widget.set_value(value)
    at.button(key="train_submit").click().run()
    try:
        assert not at.exception and not at.error
        assert any("cuDNN" in i.value for i in at.info)
    finally:
        from core import jobs  # the submit queued a real worker: stop it

        for job in jobs.queue(RunStore(store_root)):
            jobs.cancel(job["run_id"], RunStore(store_root))


def _live_text(at: AppTest) -> str:
    return at.get("progress")[-1].proto.text


def test_live_view_says_the_phase_the_batch_and_a_steady_state_eta(store_root):
    store = RunStore(store_root)
    rid = make_run(store_root, epochs=10, state="queued")
    at = open_train()
    at.session_state["train_run_id"] = rid
    at.run()
    assert _live_text(at) == "Queued: waiting for a free worker…"
    store.write_status(rid, state="running", phase="starting a worker (loading TensorFlow)")
    at.run()
    assert not at.exception
    later = " · time left known after the second epoch"  # the first includes compiling
    assert _live_text(at) == "Starting a worker (loading TensorFlow) · Epoch 0/10" + later
    store.write_status(rid, phase="compiling the XLA-model (first epoch)")
    store.write_status(rid, batch=3, batches=63, batch_epoch=1)
    at.run()
    text = _live_text(at)
    assert text == "Compiling the XLA-model (first epoch) · Epoch 1/10 · batch 3/63" + later
    running = make_run(store_root, epochs=10, seed=1, state="running")  # 5 epochs of rows
    store.write_status(running, phase="training", epoch=5, batch=40, batches=63, batch_epoch=6)
    at.session_state["train_run_id"] = running
    at.run()
    rows = store.metrics(running)
    steady = sum(r["seconds"] for r in rows[1:]) / len(rows[1:])  # epoch 1 left out
    text = _live_text(at)
    assert text.startswith("Training · Epoch 6/10 · batch 40/63 · at most ")
    assert f"at most {5 * steady:.0f} s left" in text


def _on_stamp(monkeypatch, call: int, act) -> None:
    """act() inside the live view's watch, at its call-th look at the run's files."""
    real, calls = RunStore.stamp, []

    def stamp(self, run_id):
        calls.append(run_id)
        if len(calls) == call:
            act()
        return real(self, run_id)

    monkeypatch.setattr(RunStore, "stamp", stamp)


def test_the_live_view_shows_the_end_of_a_run_inside_its_own_watch(store_root, monkeypatch):
    # The live view watches the run's files between its fragment runs: a status written
    # while it watches shows at once (here: the run cancelled from another tab), drawn in
    # the live view's place without a rerun of the whole page (counted on its data source).
    from pages.lib import sources

    rid = make_run(store_root, epochs=10, state="running")
    _on_stamp(monkeypatch, 3, lambda: RunStore(store_root).write_status(rid, state="cancelled"))
    at = open_train()
    page_runs = []
    real = sources.data_source
    monkeypatch.setattr(sources, "data_source", lambda *a: page_runs.append(1) or real(*a))
    at.session_state["train_run_id"] = rid
    at.run()  # one script run: no poll from outside brings the news
    assert not at.exception
    assert [w.value for w in at.warning] == ["This run was cancelled."]
    assert not at.get("progress") and len(page_runs) == 1


def test_the_live_view_notices_a_killed_worker_that_wrote_nothing(store_root, monkeypatch):
    # kill -9 leaves the files as they were: the watch also rereads the status (which
    # checks the worker's pid) when nothing changed.
    from core import runs

    rid = make_run(store_root, epochs=10, state="running")
    dead: list[bool] = []
    monkeypatch.setattr(runs, "worker_alive", lambda st: not dead)
    _on_stamp(monkeypatch, 2, lambda: dead.append(True))
    at = open_train()
    at.session_state["train_run_id"] = rid
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"Training failed: {runs.INTERRUPTED}"]


def test_the_train_click_scrolls_the_live_view_into_sight_once(store_root):
    rid = make_run(store_root, state="running")
    at = open_train()
    at.session_state["train_run_id"] = rid
    at.session_state["train_scroll"] = True  # what a click on Train sets
    at.run()
    assert not at.exception and "train_scroll" not in at.session_state
    assert at.get("subheader")[-1].proto.anchor == "live-run"
