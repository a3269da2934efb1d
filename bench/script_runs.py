"""What each page does in its script runs: server-side seconds per page, cold and warm.

Usage: python bench/script_runs.py [--store DIR] [--repeats N] [--profile PAGE] [--json]

Each page runs in Streamlit's AppTest (the server's own script runner, no browser) against a
run store with finished runs (--store, else a temporary one filled by tests.fakes.make_run:
LSTM, GRU and SimpleRNN). "cold" is a page's first script run after every st.cache_* was
cleared (the first visitor after a start), "warm" the median of --repeats reruns (a tab
switch, a widget change, a second visitor). Results is timed on each of its tabs.
--profile PAGE prints the functions taking the most cumulative time in that page's cold run.
bench/dashboard.py --script-runs calls this; the browser side is in bench/dashboard.py
(its server and browser steps in bench/browser.py).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/script_runs.py` from anywhere
    sys.path.insert(0, str(ROOT))
PAGES = ("home", "train", "results", "compare", "runs", "theory")
RESULTS_TABS = (
    "Gradients through time",
    "Spectral radius",
    "Errors vs naive",
    "Spec and downloads",
)


def _fill_store(store: Path) -> None:
    from tests.fakes import make_run

    for cell in ("lstm", "gru", "rnn"):
        make_run(store, cell=cell, seed=0, epochs=20, T=30)


def _app(page: str, run_id: str | None, tab: str | None) -> Any:
    from streamlit.testing.v1 import AppTest

    path = ROOT / ("app.py" if page == "home" else f"pages/{page}.py")
    at = AppTest.from_file(str(path), default_timeout=300)
    if run_id:
        at.query_params["run"] = run_id
    if tab:
        at.session_state["results_tab"] = tab
    return at


def _clear_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def time_page(page: str, run_id: str | None, repeats: int, tab: str | None = None) -> dict:
    """{'cold': s, 'warm': s (median), 'warm_runs': [...]}: one page's script runs."""
    _clear_caches()
    at = _app(page, run_id, tab)
    start = time.perf_counter()
    at.run()
    cold = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].message}")
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - start)
    return {"cold": cold, "warm": statistics.median(warm), "warm_runs": warm}


def profile(page: str, run_id: str | None, top: int = 25) -> str:
    _clear_caches()
    at = _app(page, run_id, None)
    prof = cProfile.Profile()
    prof.enable()
    at.run()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def measure(store: Path, repeats: int = 3) -> dict[str, Any]:
    os.environ["MODELS_CACHE"] = str(store)  # pages.lib.ui.get_store reads it
    from core.runs import RunStore

    runs = RunStore(store).list_runs()
    run_id = next(r["run_id"] for r in runs if r.get("state") == "done")
    figures: dict[str, Any] = {}
    for page in PAGES:
        figures[page] = time_page(page, run_id if page == "results" else None, repeats)
    for tab in RESULTS_TABS[1:]:
        figures[f"results: {tab}"] = time_page("results", run_id, repeats, tab)
    return figures


def report(figures: dict[str, Any]) -> str:
    lines = [f"{'page (script run)':<36} {'cold s':>8} {'warm s':>8}"]
    for name, f in figures.items():
        lines.append(f"{name:<36} {f['cold']:8.2f} {f['warm']:8.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None, help="a run store with finished runs")
    ap.add_argument("--repeats", type=int, default=3, help="warm reruns per page")
    ap.add_argument("--profile", choices=PAGES, default=None, help="profile one page's cold run")
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = ap.parse_args(argv)
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or Path(tmp) / "models_cache"
        if args.store is None:
            store.mkdir()
            _fill_store(store)
        os.chdir(ROOT)
        if args.profile:
            os.environ["MODELS_CACHE"] = str(store)
            from core.runs import RunStore

            rid = RunStore(store).list_runs()[0]["run_id"]
            print(profile(args.profile, rid if args.profile == "results" else None))
            return 0
        figures = measure(store, args.repeats)
    print(report(figures))
    print(f"{os.cpu_count()} CPUs; 1-min load average: {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
