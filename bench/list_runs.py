"""How listing the run store scales: RunStore.list_runs() over 100 … 10,000 synthetic runs.

Usage: python bench/list_runs.py [--sizes 100,1000,10000] [--root DIR] [--json]

One complete, realistic run (tests/fakes.make_run: spec, status, metrics, gradients through
time, probe, predictions, summary with checksums) is copied under fresh run ids until the
store holds each size. Per size it times a cold listing (a new process would: every artifact
hashed) and a warm one (size+mtime memo, as the Runs page on its next rerun), the median of
3. The store goes to a temp dir unless --root is given. Figures: docs/SCALING.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]  # run as a script from anywhere

from core import checksums  # noqa: E402
from core.runs import RunStore  # noqa: E402
from tests.fakes import make_run  # noqa: E402


def fill(root: Path, template: str, n: int) -> None:
    """Copies of the template run until the store holds n runs (ids: 16 hex, unique)."""
    have = sum(1 for p in root.iterdir() if len(p.name) == 16)
    for i in range(have, n):
        shutil.copytree(root / template, root / f"{i + 1:016x}")


def timed(store: RunStore, cold: bool) -> float:
    if cold:
        checksums._MATCHED.clear()  # as a fresh server process: nothing memoised yet
    t0 = time.perf_counter()
    rows = store.list_runs()
    assert rows and not any(r["damaged"] for r in rows[:10])
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--root", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    root = Path(args.root or tempfile.mkdtemp(prefix="gradlab-list-"))
    template = make_run(root, cell="lstm", seed=0, epochs=20, T=30)
    store = RunStore(root)
    out = {"sizes": {}}
    for n in sizes:
        fill(root, template, n)
        cold = statistics.median(timed(store, True) for _ in range(3))
        warm = statistics.median(timed(store, False) for _ in range(3))
        out["sizes"][n] = {"cold_s": round(cold, 3), "warm_s": round(warm, 3),
                           "warm_ms_per_run": round(1000 * warm / n, 3)}  # fmt: skip
        print(f"{n:>6} runs: cold {cold:7.2f} s  warm {warm:7.2f} s  "
              f"({1000 * warm / n:.2f} ms/run)", file=sys.stderr, flush=True)  # fmt: skip
    if args.root is None:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
