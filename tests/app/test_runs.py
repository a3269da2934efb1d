"""Runs page: empty state, the table of every run, delete, cancel refusal, clear failed."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.runs import RunStore
from tests.fakes import make_run

APP = Path(__file__).resolve().parents[2] / "app.py"


def open_runs() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    return at.switch_page("pages/runs.py").run()


def select_rows(at: AppTest, rows: list[int]) -> AppTest:
    at.session_state["runs_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_empty_store_says_train_one(store_root):
    at = open_runs()
    assert not at.exception
    assert any("No runs yet" in i.value for i in at.info)
    assert not at.dataframe


def test_lists_every_run_with_state_and_metrics(store_root):
    done = make_run(store_root, cell="gru", seed=1)
    failed = make_run(store_root, cell="rnn", seed=0, state="failed")
    at = open_runs()
    assert not at.exception
    df = at.dataframe[0].value.set_index("run")
    assert set(df.index) == {done, failed}
    assert df.loc[done, "cell"] == "GRU" and df.loc[done, "state"] == "done"
    assert df.loc[failed, "state"] == "failed"
    assert df.loc[done, "test RMSE"] > 0 and df.loc[done, "size MB"] > 0
    assert "2 runs using" in at.caption[0].value


def test_delete_selected_run(store_root):
    keep = make_run(store_root, cell="lstm", seed=0)
    make_run(store_root, cell="gru", seed=0)
    at = open_runs()
    order = list(at.dataframe[0].value["run"])
    gone = next(rid for rid in order if rid != keep)
    at = select_rows(at, [order.index(gone)])
    assert not at.exception
    assert at.get("page_link")[0].proto.query_string == f"run={gone}"
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert RunStore(store_root).run_ids() == [keep]
    assert any("1 run(s) deleted" in s.value for s in at.success)


def test_running_run_cannot_be_deleted_only_cancelled(store_root):
    running = make_run(store_root, cell="lstm", seed=0, state="running")
    at = select_rows(open_runs(), [0])
    assert not at.button(key="runs_cancel").disabled
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert any("cancel it first" in e.value for e in at.error)
    assert RunStore(store_root).run_ids() == [running]


def test_clear_failed_runs_keeps_the_rest(store_root):
    keep = make_run(store_root, cell="lstm", seed=0)
    make_run(store_root, cell="gru", seed=0, state="failed")
    make_run(store_root, cell="rnn", seed=0, state="failed")
    at = open_runs()
    assert at.button(key="runs_clear").label == "Clear failed runs (2)"
    at.button(key="runs_clear").click().run()
    assert not at.exception
    assert RunStore(store_root).run_ids() == [keep]
