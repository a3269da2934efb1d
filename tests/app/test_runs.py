"""Runs page: empty state, the table of every run, delete, cancel refusal, clear failed."""

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.fmt import MISSING
from core.runs import RunStore
from tests.fakes import make_run

APP = Path(__file__).resolve().parents[2] / "app.py"


def open_runs() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    return at.switch_page("pages/runs.py").run()


def select_rows(at: AppTest, rows: list[int]) -> AppTest:
    """Click rows of the table as shown now (its key names the rows it shows)."""
    key = at.dataframe[0].key
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def select_runs(at: AppTest, run_ids: list[str]) -> AppTest:
    order = list(at.dataframe[0].value["id"])
    return select_rows(at, [order.index(rid) for rid in run_ids])


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
    df = at.dataframe[0].value.set_index("id")
    assert set(df.index) == {done, failed}
    assert df.loc[done, "run"] == "GRU 1×32 · seed 1"  # readable; data and period beside it
    assert df.loc[done, "data"] == "^GSPC (bundled)" and df.loc[done, "state"] == "done"
    assert df.loc[done, "test period"].endswith("Dec 2015")  # RMSEs compare within a period
    assert df.loc[failed, "state"] == "failed"
    assert df.loc[done, "test RMSE (price)"] > 0 and df.loc[done, "size MB"] > 0
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}", df.loc[done, "created"])
    assert "2 runs using" in at.caption[0].value


def test_a_run_without_a_memory_horizon_shows_the_empty_marker(store_root):
    # Runs trained before the horizon was recorded have none in summary.json: the cell reads
    # as the app's empty marker, like "vs naive" of a run without a skill, never None or blank.
    old = make_run(store_root, cell="lstm", seed=0)
    new = make_run(store_root, cell="gru", seed=0)
    path = RunStore(store_root).run_dir(new) / "summary.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"memory_horizon": 12}))
    failed = make_run(store_root, cell="rnn", seed=0, state="failed")
    df = open_runs().dataframe[0].value.set_index("id")
    assert df.loc[old, "memory horizon"] == MISSING and df.loc[new, "memory horizon"] == "12"
    assert df.loc[failed, "memory horizon"] == MISSING == df.loc[failed, "vs naive"]


def test_delete_selected_run(store_root):
    keep = make_run(store_root, cell="lstm", seed=0)
    make_run(store_root, cell="gru", seed=0)
    at = open_runs()
    order = list(at.dataframe[0].value["id"])
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


def test_delete_twice_never_slides_onto_the_next_row(store_root):
    runs = [make_run(store_root, cell="lstm", seed=s) for s in range(3)]
    at = open_runs()
    first = list(at.dataframe[0].value["id"])[0]
    at = select_rows(at, [0])
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert sorted(RunStore(store_root).run_ids()) == sorted(set(runs) - {first})
    # The selection went with the deleted run: nothing is chosen, no Delete button to misfire.
    assert not [b for b in at.button if b.key == "runs_delete"]
    assert any("Select rows" in c.value for c in at.caption)
    assert len(RunStore(store_root).run_ids()) == 2


def test_run_added_between_selection_and_click_cannot_redirect_delete(store_root):
    old = make_run(store_root, cell="lstm", seed=0)
    other = make_run(store_root, cell="gru", seed=0)
    at = select_runs(open_runs(), [old])
    assert at.button(key="runs_delete").label == "Delete 1 selected"
    assert any(old in c.value for c in at.caption)  # the page names the id it will act on
    newer = make_run(store_root, cell="rnn", seed=5)  # another tab or the CLI adds a run
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert sorted(RunStore(store_root).run_ids()) == sorted([other, newer])


def test_run_removed_between_selection_and_click_cannot_redirect_delete(store_root):
    runs = [make_run(store_root, cell="lstm", seed=s) for s in range(3)]
    at = open_runs()
    order = list(at.dataframe[0].value["id"])
    target = order[2]
    at = select_runs(at, [target])
    RunStore(store_root).delete(order[0])  # rows shift up under the selection
    at.run()  # a rerun (any widget) re-reads the store before the click
    assert any(target in c.value for c in at.caption)
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert sorted(RunStore(store_root).run_ids()) == sorted(set(runs) - {order[0], target})


def test_partial_refusal_stays_visible_after_the_rest_is_deleted(store_root):
    running = make_run(store_root, cell="lstm", seed=0, state="running")
    done = make_run(store_root, cell="gru", seed=0)
    at = select_runs(open_runs(), [running, done])
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert RunStore(store_root).run_ids() == [running]
    assert any("1 run(s) deleted" in s.value for s in at.success)
    assert any("cancel it first" in e.value for e in at.error)
    # The refused run stays chosen, so cancelling it is one click away.
    assert at.button(key="runs_cancel").label == "Cancel 1 queued/running"
