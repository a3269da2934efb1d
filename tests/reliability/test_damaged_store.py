"""One bad run folder never takes the store down (issue 14, item 4).

Each damaged run below is written beside good ones; every reader (list_runs, status, the
queue, `runs list`, Home, Runs, Results, Compare and the sidebar) must keep working, the bad
run shows as damaged with a reason where it can no longer be trusted, and the good runs are
listed as before. "Unreadable" is a directory where a file should be: it raises the same
OSError family a PermissionError does, and works as root too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import jobs
from core.cli import main
from core.errors import UserError
from core.runs import RunStore
from tests.fakes import make_run

APP = Path(__file__).resolve().parents[2] / "app.py"

# (file, content) written over a finished run's file; None: replace the file by a folder.
DAMAGE = {
    "spec_list": ("spec.json", {"spec": [1]}),
    "spec_scalar": ("spec.json", 5),
    "spec_model_number": ("spec.json", {"spec": {"model": 3}, "created": 7}),
    "spec_unreadable": ("spec.json", None),
    "status_list": ("status.json", [1]),
    "status_state_number": ("status.json", {"state": 5}),
    "status_fields": ("status.json", {"state": "done", "epoch": "x", "epochs": {"a": 1}}),
    "status_running_bad_pid": ("status.json", {"state": "running", "pid": "x", "epoch": [1]}),
    "status_unreadable": ("status.json", None),
    "summary_list": ("summary.json", [1]),
    "summary_metrics_list": ("summary.json", {"metrics": [1], "checksums": 5}),
    "summary_metric_text": ("summary.json", {"metrics": {"rmse": "x", "skill": [1]}}),
    "summary_unreadable": ("summary.json", None),
    "gtt_scalar_lags": ("gradients_through_time.json", {"lags": 5, "norms": 3}),
    "gtt_ragged": ("gradients_through_time.json", {"lags": [0, 1], "norms": [[1], "a"]}),
    "gtt_list": ("gradients_through_time.json", [1, 2]),
    "metrics_rows": ("metrics.jsonl", [{"epoch": "x"}, {"epoch": 1, "grad_norm": [1]}, [1]]),
    "metrics_values": (
        "metrics.jsonl",
        [{"epoch": 1, "loss": "a", "spectral_radius": 5, "grad_norm": {"global": 3}}],
    ),
    "model_is_a_folder": ("model.keras", None),
    "probe_garbage": ("probe.npz", "not a zip"),
    "predictions_garbage": ("predictions.parquet", "not parquet"),
}


def _damage(run_dir: Path, name: str, content) -> None:
    path = run_dir / name
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    if content is None:
        path.mkdir()
    elif name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(row) + "\n" for row in content))
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))


@pytest.fixture
def damaged_store(store_root):
    """Two good runs and one finished run per kind of damage; returns (good ids, bad by kind)."""
    good = [make_run(store_root, cell="lstm", seed=0), make_run(store_root, cell="gru", seed=0)]
    bad = {}
    for i, (kind, (name, content)) in enumerate(DAMAGE.items()):
        rid = make_run(store_root, cell="rnn", seed=100 + i)
        _damage(RunStore(store_root).run_dir(rid), name, content)
        bad[kind] = rid
    return good, bad


TRUST_BROKEN = [k for k in DAMAGE if not k.startswith(("gtt", "metrics", "probe"))]


def test_store_readers_survive_every_damaged_folder(damaged_store, figures):
    good, bad = damaged_store
    store = RunStore()
    rows = {r["run_id"]: r for r in store.list_runs()}
    assert set(rows) == set(good) | set(bad.values())
    for rid in good:
        assert not rows[rid]["damaged"] and rows[rid]["state"] == "done"
    for kind in TRUST_BROKEN:
        row = rows[bad[kind]]
        assert row["damaged"], kind
        assert str(row["error"]).startswith("damaged"), (kind, row["error"])
    assert jobs.queue(store) == []  # a new submission's queue check reads every status
    readers = (store.status, store.summary, store.metrics, store.probe, store.is_complete)
    readers += (store.gradients_through_time, store.predictions, store.spec, store.record)
    for rid in bad.values():  # every reader answers (None/[] where unusable) or says what to do
        for reader in readers:
            try:
                reader(rid)
            except UserError as exc:
                assert "delete" in str(exc), (reader.__name__, exc)
    figures["damaged.kinds"] = len(DAMAGE)


def test_runs_list_cli_survives_every_damaged_folder(damaged_store, capsys):
    good, bad = damaged_store
    assert main(["runs", "list", "--json"]) == 0
    rows = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(good) | set(bad.values())
    for rid in bad.values():
        assert main(["runs", "show", rid]) == 0, rid
    capsys.readouterr()


@pytest.mark.parametrize("page", ["pages/home.py", "pages/runs.py", "pages/compare.py"])
def test_pages_and_sidebar_survive_every_damaged_folder(damaged_store, page):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at = at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e for e in at.error if "Something went wrong" in e.value]


def test_results_opens_every_damaged_run_with_a_message(damaged_store):
    good, bad = damaged_store
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    for kind, rid in [*bad.items(), ("good", good[0])]:
        at.query_params["run"] = rid
        at = at.switch_page("pages/results.py").run()
        assert not at.exception, (kind, [e.value for e in at.exception])
        assert not [e for e in at.error if "Something went wrong" in e.value], kind
