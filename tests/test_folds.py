"""Walk-forward folds: each fold trains and validates only before its test start, the folds
tile the end of the data, and a repeated walk-forward comparison is all cache hits."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import data
from core.config import RunSpec, run_id
from core.dataset import make_dataset
from core.errors import UserError
from core.folds import plan_folds

REPO = Path(__file__).resolve().parent.parent


def _prices():
    return data.load_prices("sample", "^GSPC", start="2014-01-01", end="2016-12-31")


def test_folds_never_train_or_validate_on_or_after_their_test_start():
    prices, spec = _prices(), RunSpec().replace(lookback=20)
    folds = plan_folds(prices, spec, 3)
    ds_full = make_dataset(prices, spec.data)
    assert folds[-1].test_end == ds_full.test.dates[-1].date().isoformat()
    for prev, nxt in zip(folds, folds[1:], strict=False):
        assert nxt.test_start > prev.test_end  # consecutive, non-overlapping
    for fold in folds:
        ds = make_dataset(fold.prices, fold.spec.data)
        start = ds.test.dates[0]
        assert start.date().isoformat() == fold.test_start
        assert ds.test.dates[-1].date().isoformat() == fold.test_end
        assert len(ds.test) == len(ds_full.test)  # each fold tests as many days as one run
        assert ds.train.dates.max() < start and ds.val.dates.max() < start
        assert fold.prices.index[-1] == ds.test.dates[-1]  # nothing after its test period
        # Scaling comes from this fold's training rows: returns of days 1 … T + n_train − 1.
        price = fold.prices["adj_close" if "adj_close" in fold.prices else "close"].to_numpy()
        returns = np.diff(np.log(price))[: spec.data.lookback + len(ds.train) - 1]
        assert ds.x_mean[0] == pytest.approx(returns.mean(), rel=1e-9)
    assert make_dataset(folds[0].prices, folds[0].spec.data).x_mean[0] != ds_full.x_mean[0]


def test_the_same_plan_names_the_same_runs():
    prices, spec = _prices(), RunSpec().replace(lookback=20)
    ids = [
        [run_id(f.spec, data.fingerprint(f.prices)) for f in plan_folds(prices, spec, 3)]
        for _ in range(2)
    ]
    assert ids[0] == ids[1] and len(set(ids[0])) == 3


@pytest.mark.parametrize(
    ("k", "days", "lookback", "words"),
    [
        (1, None, 20, "between 2 and"),
        (8, None, 20, "too little data before its test period"),
        (3, 5, 20, "needs at least 10 days"),
        (3, None, 650, "fold 1 of 3 is too short for lookback 650"),
    ],
    ids=["one fold", "too many folds", "test period too short", "lookback too long"],
)
def test_bad_plans_say_what_to_change(k, days, lookback, words):
    with pytest.raises(UserError, match=words):
        plan_folds(_prices(), RunSpec().replace(lookback=lookback), k, days)


def _cli(args: list[str], root: Path) -> subprocess.CompletedProcess:
    env = {"MODELS_CACHE": str(root), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    env["PATH"] = "/usr/bin:/bin"
    cmd = [sys.executable, "-m", "core", "compare", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def test_walk_forward_cli_reports_folds_and_is_a_cache_hit_the_second_time(store_root):
    args = ["--start", "2015-06-01", "--end", "2016-06-30", "--lookback", "5", "--units", "2"]
    args += ["--epochs", "1", "--patience", "0", "--seeds", "1", "--cells", "rnn,gru"]
    args += ["--folds", "2", "--json"]
    first = _cli(args, store_root)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout.strip().splitlines()[-1])
    assert [len(f["run_ids"]) for f in report["folds"]] == [2, 2]
    assert report["folds"][0]["test_end"] < report["folds"][1]["test_start"]
    assert set(report["fold_skill"]) == {"rnn", "gru"} and len(report["fold_skill"]["gru"]) == 2
    second = _cli(args, store_root)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout.strip().splitlines()[-1])
    assert again["folds"] == report["folds"] and again["pairs"] == report["pairs"]
    assert "epoch 1/1" not in second.stderr  # nothing trained: every fold's run was cached
    _page_shows_the_same_pairs(report)


def _page_shows_the_same_pairs(report: dict) -> None:
    """One engine: the Compare page, given the CLI's runs and folds, prints the CLI's pairs."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at = at.switch_page("pages/compare.py")
    at.session_state["compare_run_ids"] = [r for f in report["folds"] for r in f["run_ids"]]
    at.session_state["compare_folds"] = report["folds"]
    at.run()
    assert not at.exception and not at.error
    shown = [m.value for m in at.markdown if m.value.startswith("**GRU vs SimpleRNN:**")]
    assert shown == [f"**GRU vs SimpleRNN:** {p['verdict']}" for p in report["pairs"]]
    assert report["verdict"] in [w.value for w in list(at.warning) + list(at.success)]
    assert len(at.get("plotly_chart")) == 4  # val loss, fold skill, gradients, errors
