"""Where XLA pays: first-epoch (compile) cost against steady-state saving, per model size.

    python bench/breakeven.py [--json out.json]

For each size, trains the default data with XLA on and off (GRADLAB_XLA; the same
steps_per_execution), patience 0, 4 epochs, and reads training.fit's phases: the extra
first-epoch seconds XLA costs, the seconds per later epoch it saves, and the break-even in
epochs and in core/compile_choice.py's step-work. docs/BENCHMARKS.md quotes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SIZES = [(32, 30), (64, 60), (128, 120)]  # (units, lookback), one layer, LSTM
EPOCHS = 4


def measure(units: int, lookback: int, xla: str) -> dict:
    from core import compile_choice, data, dataset, training
    from core.config import RunSpec

    os.environ["GRADLAB_XLA"] = xla
    spec = RunSpec().replace(units=units, lookback=lookback, epochs=EPOCHS, patience=0)
    ds = dataset.make_dataset(data.load_prices("sample", "^GSPC"), spec.data)
    result = training.fit(spec, ds)
    later = [r["seconds"] for r in result.history[1:]]
    work_per_epoch = compile_choice.step_work(spec, len(ds.train.x)) / EPOCHS
    return {
        "first_epoch": result.phases["first_epoch"],
        "steady_epoch": sum(later) / len(later),
        "work_per_epoch": work_per_epoch,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    for units, lookback in SIZES:
        on, off = measure(units, lookback, "on"), measure(units, lookback, "off")
        cost = on["first_epoch"] - off["first_epoch"]
        saving = off["steady_epoch"] - on["steady_epoch"]
        epochs = cost / saving if saving > 0 else None
        row = {"units": units, "lookback": lookback, "xla": on, "plain": off}
        row.update(compile_cost_s=cost, saving_per_epoch_s=saving, break_even_epochs=epochs)
        row["break_even_work"] = epochs * on["work_per_epoch"] if epochs else None
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"load": os.getloadavg(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
