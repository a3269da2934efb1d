"""Memory tasks as a data source: deterministic data, clear errors, runs like any other."""

import json

import numpy as np
import pytest

from core import tasks
from core.cli import main
from core.config import DataSpec, RunSpec
from core.errors import SpecError

MEMORY = DataSpec(source="task", task="marked-memory", lag=8, lookback=12, n_train=100)
ADDING = DataSpec(source="task", task="adding", lag=8, lookback=12, n_train=100)


def test_marked_memory_target_is_the_marked_value_lag_steps_back():
    ds = tasks.make_task_dataset(MEMORY)
    for split in (ds.train, ds.val, ds.test):
        assert split.x.shape == (len(split), 12, 2)
        marked = 12 - 1 - 8
        assert (split.x[:, marked, 1] == 1).all() and split.x[:, :, 1].sum() == len(split)
        np.testing.assert_array_equal(split.y, split.x[:, marked, 0])
    assert (len(ds.train), len(ds.val), len(ds.test)) == (100, 500, 500)
    assert ds.y_mean == pytest.approx(float(np.mean(ds.train.y)))


def test_adding_target_is_the_sum_of_two_marks_the_first_at_least_lag_back():
    ds = tasks.make_task_dataset(ADDING)
    x, y = ds.train.x, ds.train.y
    assert (x[:, :, 1].sum(axis=1) == 2).all()
    np.testing.assert_allclose(y, (x[:, :, 0] * x[:, :, 1]).sum(axis=1), rtol=1e-6)
    first = np.argmax(x[:, :, 1], axis=1)
    assert (11 - first >= 8).all()  # the first mark is at least `lag` steps before the last


def test_same_spec_same_data_and_fingerprint_other_seed_other():
    a, b = tasks.make_task_dataset(MEMORY), tasks.make_task_dataset(MEMORY)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    assert tasks.fingerprint(MEMORY) == tasks.fingerprint(MEMORY)
    other = DataSpec(**{**MEMORY.__dict__, "task_seed": 1})
    assert tasks.fingerprint(other) != tasks.fingerprint(MEMORY)
    assert len(tasks.fingerprint(MEMORY)) == 64


def test_skill_is_one_minus_mse_over_the_training_mean_baseline():
    ds = tasks.make_task_dataset(MEMORY)
    y = ds.test.y.astype(float)
    metrics, frame = tasks.evaluate_task(ds, {"test": y * 0.5 + 0.5 * ds.y_mean})
    base = np.mean((ds.y_mean - y) ** 2)
    assert metrics["skill"] == pytest.approx(1 - 0.25 * base / base)  # 0.75
    assert metrics["baseline_mse"] == pytest.approx(base)
    assert tuple(frame.columns) == tasks.FRAME_COLUMNS
    assert "actual_price" not in frame.columns  # no invented prices
    assert tasks.evaluate_task(ds, {"test": np.full(len(y), ds.y_mean)})[0]["skill"] == 0


def test_price_specs_keep_their_dict_and_run_id():
    d = RunSpec().to_dict()["data"]
    assert not {"task", "lag", "n_train", "task_seed"} & set(d)
    spec = RunSpec().replace(source="task", lag=8, lookback=12)
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"task": "copy"}, "task must be one of"),
        ({"lag": 12}, "set lookback to at least 13"),
        ({"lag": 0}, "lag must be between 1"),
        ({"n_train": 10**9}, "n_train must be between"),
        ({"n_test": 3}, "n_test must be between"),
    ],
)
def test_bad_task_settings_say_what_to_do(changes, words):
    with pytest.raises(SpecError, match=words):
        RunSpec().replace(**{"source": "task", "lookback": 12, "lag": 8, **changes}).validate()


def test_task_settings_on_prices_are_an_error():
    with pytest.raises(SpecError, match="apply only to memory tasks"):
        RunSpec().replace(lag=5).validate()


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--source", "task", "--task", "copy"],
        ["train", "--source", "task", "--lag", "50", "--lookback", "50"],
        ["train", "--source", "task", "--lag", "0"],
        ["train", "--source", "task", "--n-train", "99999999"],
        ["train", "--lag", "5"],
    ],
)
def test_cli_bad_task_input_is_one_line_exit_2_nothing_written(argv, store_root, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert list(store_root.iterdir()) == []


def test_cli_trains_a_task_run_that_reopens_as_a_cache_hit(store_root, capsys):
    argv = ["train", "--source", "task", "--task", "adding", "--lag", "4", "--lookback", "6"]
    argv += ["--n-train", "100", "--n-val", "64", "--n-test", "32", "--units", "4"]
    argv += ["--epochs", "1", "--cell", "gru", "--json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["state"] == "done" and not first["cached"]
    assert not (store_root / "_data").exists() or not any((store_root / "_data").iterdir())
    summary = json.loads((store_root / first["run_id"] / "summary.json").read_text())
    assert summary["metrics"]["baseline"] == "training mean"
    assert summary["n_windows"] == {"train": 100, "val": 64, "test": 32}
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["run_id"] == first["run_id"] and again["cached"]
