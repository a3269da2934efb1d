"""CLI: bad input is one stderr line + exit 2 with the store untouched; cache hits are light."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main

REPO = Path(__file__).resolve().parent.parent
TINY = ["--start", "2015-01-01", "--end", "2016-06-30", "--epochs", "2", "--units", "4"]
TINY += ["--lookback", "5", "--patience", "0", "--seed", "1"]


def _snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _tiny_with(flag: str, value: str) -> list[str]:
    args = list(TINY)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    return args


@pytest.fixture
def garbage_csv(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(os.urandom(2000))
    return str(path)


BAD = {  # name: (argv, what the one-line error must say)
    "unknown cell": (
        ["train", *TINY, "--cell", "lstn"],
        "cell must be one of 'lstm', 'gru', 'rnn'",
    ),
    "epochs 0": (["train", *_tiny_with("--epochs", "0")], "epochs must be between 1 and 1000"),
    "epochs not a number": (
        ["train", *_tiny_with("--epochs", "ten")],
        "argument --epochs: invalid int value",
    ),
    "lookback 1": (
        ["train", *_tiny_with("--lookback", "1")],
        "lookback must be between 2 and 1000",
    ),
    "lookback longer than data": (
        ["train", *_tiny_with("--lookback", "500")],
        "lookback 500 needs at least 571 price rows",
    ),
    "units 0": (["train", *_tiny_with("--units", "0")], "units must be between 1 and 512"),
    "units too many": (
        ["train", *_tiny_with("--units", "100000")],
        "units must be between 1 and 512",
    ),
    "layers 9": (["train", *TINY, "--layers", "9"], "layers must be between 1 and 4"),
    "batch 0": (["train", *TINY, "--batch-size", "0"], "batch_size must be between 1 and 8192"),
    "lr 0": (["train", *TINY, "--lr", "0"], "learning_rate must be between 1e-06 and 1000.0"),
    "lr negative": (
        ["train", *TINY, "--lr", "-0.1"],
        "learning_rate must be between 1e-06 and 1000.0",
    ),
    "dropout 1.0": (
        ["train", *TINY, "--dropout", "1.0"],
        "dropout must be between 0.0 and 0.9",
    ),
    "missing csv": (
        ["train", *TINY, "--csv", "/nonexistent/prices.csv"],
        "CSV file '/nonexistent/prices.csv' not found",
    ),
    "ticker path": (
        ["train", *TINY, "--ticker", "../etc"],
        "ticker '../etc' is not a ticker symbol",
    ),
    "unknown ticker": (["train", *TINY, "--ticker", "NOPE"], "'NOPE' is not bundled"),
    "start after end": (
        ["train", *_tiny_with("--start", "2017-01-01")],
        "start 2017-01-01 is after end 2016-06-30",
    ),
    "unknown command": (["fly"], "argument command: invalid choice"),
    "compare one cell": (
        ["compare", *TINY, "--cells", "lstm"],
        "--cells needs two or more different cells, e.g. lstm,gru; got 'lstm'",
    ),
    "compare bad cell": (
        ["compare", *TINY, "--cells", "lstm,xyz"],
        "cell must be one of 'lstm', 'gru', 'rnn'",
    ),
    "runs show bad id": (
        ["runs", "show", "../etc"],
        "'../etc' is not a run id (16 hex characters)",
    ),
    "runs rm unknown": (["runs", "rm", "0123456789abcdef"], "there is no run 0123456789abcdef"),
    "data missing csv": (
        ["data", "--csv", "/nonexistent/prices.csv"],
        "CSV file '/nonexistent/prices.csv' not found",
    ),
    "compare folds 0": (
        ["compare", *TINY, "--folds", "0"],
        "--folds must be 2 or more for walk-forward (1 = off), got 0",
    ),
    "compare folds 11": (["compare", *TINY, "--folds", "11"], "between 2 and 10 folds"),
    "compare folds too short for the lookback": (
        ["compare", *TINY, "--folds", "6"],
        "fold 1 of 6 has too little data before its test period",
    ),
    "compare fold test period too short": (
        ["compare", *TINY, "--folds", "3", "--fold-days", "5"],
        "each fold's test period needs at least 10 days",
    ),
    "compare fold days without folds": (
        ["compare", *TINY, "--fold-days", "30"],
        "--fold-days needs --folds 2 or more",
    ),
    "compare bad errors": (["compare", *TINY, "--errors", "pct"], "argument --errors"),
    "usage hint names the command once": (["train", "--cell"], "(see python -m core train --help)"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_store_untouched(name, store_root, capsys):
    argv, says = BAD[name]
    before = _snapshot(store_root)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert says in err, err  # the message about this input, not some other refusal
    assert _snapshot(store_root) == before


def test_garbage_csv_is_a_user_error(store_root, capsys, garbage_csv):
    assert main(["train", *TINY, "--csv", garbage_csv]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert _snapshot(store_root) == []


def test_data_and_tickers(store_root, capsys):
    assert main(["tickers"]) == 0
    assert "^GSPC" in capsys.readouterr().out.split()
    assert main(["data", "--ticker", "^GSPC", "--start", "2015-01-01", "--end", "2015-12-31"]) == 0
    assert "rows" in capsys.readouterr().out
    assert main(["data", "--start", "2015-01-01", "--end", "2015-12-31", "--json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["rows"] == 252 and info["start"] == "2015-01-02" and info["source"] == "sample"


def test_runs_list_json_on_empty_store(store_root, capsys):
    assert main(["runs", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


_NO_TF = """
import sys, time, runpy
t0 = time.perf_counter()
sys.argv = ["core", "train", *sys.argv[1:]]
try:
    runpy.run_module("core", run_name="__main__")
except SystemExit as e:
    code = e.code
print("TF_LOADED" if "tensorflow" in sys.modules else "TF_ABSENT", time.perf_counter() - t0, code,
      file=sys.stderr)
sys.exit(code)
"""


def _cli(args: list[str], store_root: Path, probe_tf: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELS_CACHE": str(store_root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-c", _NO_TF, *args] if probe_tf else [sys.executable, "-m", "core"]
    cmd += [] if probe_tf else ["train", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_second_identical_train_is_a_fast_cache_hit_without_tensorflow(store_root):
    first = _cli([*TINY, "--json"], store_root)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout.strip().splitlines()[-1])
    assert result["state"] == "done" and not result["cached"] and result["epochs_run"] == 2
    assert result["metrics"]["naive_rmse"] > 0 and "epoch 2/2" in first.stderr
    second = _cli([*TINY, "--json"], store_root, probe_tf=True)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout.strip().splitlines()[-1])
    assert again["cached"] and again["run_id"] == result["run_id"]
    assert again["metrics"] == result["metrics"]
    # What makes a hit fast on any machine, however busy: it never imports TensorFlow.
    assert "TF_ABSENT" in second.stderr, second.stderr
    # A corrupted model is never a cache hit: the same command trains again.
    model = Path(result["run_dir"]) / "model.keras"
    model.write_bytes(b"not a model")
    third = _cli([*TINY, "--json"], store_root)
    redo = json.loads(third.stdout.strip().splitlines()[-1])
    assert third.returncode == 0 and not redo["cached"] and redo["metrics"] == result["metrics"]


@pytest.mark.parametrize("command", ["train", "compare"])
def test_zero_workers_is_one_line_before_any_run_is_written(
    command, store_root, monkeypatch, capsys
):
    # GRADLAB_WORKERS=0 used to be read only by the queued run's worker: the run stayed behind
    monkeypatch.setenv("GRADLAB_WORKERS", "0")
    before = _snapshot(store_root)
    assert main([command, *TINY]) == 2
    _, err = capsys.readouterr()
    assert err.strip() == (
        "error: GRADLAB_WORKERS must be a whole number between 1 and 64, got '0': "
        "fix it or unset it (default 1)"
    )
    assert _snapshot(store_root) == before
