"""The memory preset shows the vanishing gradient: its configuration, one seed per cell.

The same specs as `python -m core compare --preset memory` (core/memory_preset.py), with
one seed instead of three to keep the suite short. Expected, and measured with three seeds
in docs/SCIENCE.md: SimpleRNN does not learn to recall the value 40 steps back and its
memory horizon stays below the lag; LSTM and GRU learn it and their horizon reaches it.
"""

import json

import pytest

from core import memory_preset
from core.cli import main, train_one
from core.gates import memory_horizon
from core.runs import RunStore

pytest.importorskip("keras")


@pytest.mark.slow
def test_preset_orders_the_cells_on_skill_horizon_and_kept_gradients(store_root):
    store = RunStore(store_root)
    rep = memory_preset.run(store, lambda s, spec: train_one(s, spec, None, print)[0], seeds=1)
    lag, cells = rep["lag"], rep["cells"]
    for cell, c in cells.items():
        print(cell, json.dumps(c))
    assert lag == 40 and [r["cell"] for r in rep["runs"]] == ["rnn", "lstm", "gru"]
    assert cells["rnn"]["skill"]["mean"] < 0.2
    assert cells["rnn"]["memory_horizon"]["mean"] < lag
    ratio = {}
    for r in rep["runs"]:
        summary, gtt = store.summary(r["run_id"]), store.gradients_through_time(r["run_id"])
        assert summary["memory_horizon"] == memory_horizon(gtt["kept"]["norms"])
        norms = gtt["kept"]["norms"]
        ratio[r["cell"]] = norms[lag] / norms[0]
    for cell in ("lstm", "gru"):
        assert cells[cell]["skill"]["mean"] > 0.7, cell
        assert cells[cell]["memory_horizon"]["mean"] >= lag, cell
        assert ratio["rnn"] < 1e-3 * ratio[cell], (cell, ratio)


def test_preset_settings_are_stated_and_fair():
    specs = memory_preset.specs(2)
    assert len(specs) == 6
    data = {spec.data for _, _, spec in specs}
    assert len(data) == 1  # every cell and seed sees the same generated data
    for cell, _, spec in specs:
        assert spec.train.learning_rate == memory_preset.LEARNING_RATE[cell]
        assert spec.data.lag == 40 and spec.data.lookback == 50 and spec.train.patience == 0


def test_preset_bad_seeds_is_one_line_exit_2(store_root, capsys):
    assert main(["compare", "--preset", "memory", "--seeds", "0"]) == 2
    assert main(["compare", "--preset", "copy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("error: ") for e in err)
    assert list(store_root.iterdir()) == []
