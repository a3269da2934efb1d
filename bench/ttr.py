"""Time to result of the default run: dashboard click to rendered Results, the CLI whole
process, and Darts' whole process for the same model and data, alternated, medians, ratio.

    python bench/ttr.py [--rounds 3] [--before] [--json out.json]

Dashboard: a real `streamlit run app.py` (its warm worker started with it) and headless
chromium through Playwright (as tests/e2e): the Train page with its defaults (LSTM 1x32,
lookback 30, <= 20 epochs, patience 5, ^GSPC from 2010: core.config.dashboard_default),
the clock starts at the Train click and stops
when Results, opened by the page's "Open in Results" link, has drawn its charts. The run is
deleted between rounds, so every round trains. CLI: `python -m core train --start 2010-01-01`
(the same run) in a fresh process and store. Darts: bench/peers.py in .bench-venv, a BlockRNNModel of the same size on
the same windows, for the epochs our run trained (import to fitted model). --before sets
GRADLAB_XLA=on, GRADLAB_WARM_WORKERS=0, GRADLAB_PREWARM=0 and GRADLAB_WORKER_MAX_RUNS=1:
the compile options and the cold worker per run of the code before issue 16. The box's load (uptime) is recorded beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import DASHBOARD_FROM, dashboard_default  # noqa: E402  (after the path)

VENV_PY = ROOT / ".bench-venv" / "bin" / "python"


def _env(store: Path, before: bool) -> dict[str, str]:
    env = {**os.environ, "MODELS_CACHE": str(store), "CUDA_VISIBLE_DEVICES": ""}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", GRADLAB_WARM_WORKERS="0" if before else "1")
    env["GRADLAB_PREWARM"] = "0" if before else "1"
    # Before issue 16 every run had a fresh worker: one run per worker, then it leaves.
    env["GRADLAB_WORKER_MAX_RUNS"] = "1" if before else "25"
    if before:
        env["GRADLAB_XLA"] = "on"
    else:
        env.pop("GRADLAB_XLA", None)
    return env


def cli_once(before: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "core", "train", "--json", "--start", DASHBOARD_FROM],
            cwd=ROOT,
            env=_env(Path(tmp), before),
            capture_output=True,
            text=True,
            timeout=900,
        )
        wall = time.perf_counter() - start
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"seconds": wall, "epochs": result.get("epochs_run")}


def windows_npz(path: Path) -> None:
    """The default run's training and validation windows, for the peer."""
    import numpy as np

    from core import data, dataset

    d = dashboard_default().data
    ds = dataset.make_dataset(data.load_prices(d.source, d.ticker, start=d.start), d)
    np.savez(path, x=ds.train.x, y=ds.train.y, vx=ds.val.x, vy=ds.val.y)


def darts_once(npz: Path, epochs: int) -> dict[str, Any]:
    m = dashboard_default().model
    cmd = [str(VENV_PY), str(ROOT / "bench" / "peers.py"), "--data", str(npz), "--peer", "darts"]
    cmd += ["--cell", m.cell, "--epochs", str(epochs), "--hidden", str(m.units)]
    cmd += ["--layers", str(m.layers)]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if "error" in figures:
        raise RuntimeError(f"darts failed: {figures['error']}")
    return {"seconds": wall, "fit_seconds": figures.get("seconds")}


def dashboard_once(page: Any, url: str, store: Path) -> dict[str, Any]:
    from bench import browser as dash
    from core.runs import RunStore

    page.goto(url + "/train", wait_until="commit")
    dash.wait_rendered(page, min_charts=1)
    clicked, start = time.time(), time.perf_counter()
    run_id = dash.click_train_and_wait(page, timeout_ms=900_000)
    trained, seen = time.perf_counter() - start, time.time()
    page.get_by_role("link", name="Open in Results").click()
    dash.wait_rendered(page, dash.RESULTS_CHARTS, title=dash.RESULTS_TITLE)
    seconds = time.perf_counter() - start
    runs = RunStore(store)
    summary = runs.summary(run_id) or {}
    status = dict(runs.status(run_id))
    # The last status write ("done"), to the file system's precision (status has seconds).
    status["done_ts"] = (runs.run_dir(run_id) / "status.json").stat().st_mtime
    runs.delete(run_id)  # the next round trains again
    compiled = summary.get("compile") or {}
    return {
        "seconds": seconds,
        "to_finished": trained,
        **_page_costs(clicked, seen, status, seconds - trained),
        "phases": summary.get("phases"),
        "xla": compiled.get("xla"),
        "reused": compiled.get("reused"),
    }


def _page_costs(clicked: float, seen: float, status: dict, results_s: float) -> dict:
    """Where the page's own time goes: click to the run queued (the Train page's script run
    and the submit), the run's last status write to 'Training finished.' on screen (polling
    and the final render), and opening Results."""
    queued, done = status.get("queued_at"), status.get("done_ts")
    return {
        "click_to_queued": queued - clicked if isinstance(queued, (int, float)) else None,
        "finished_to_shown": seen - done if done is not None else None,
        "open_results": results_s,
    }


def wait_prewarmed(store: Path, started: float, timeout_s: float = 600.0) -> float | None:
    """Seconds from the server's start until its warm worker has compiled the default cell
    (core/warm_models.py): what a user who opens the app and clicks at once would wait
    beyond these figures. None if no warm worker came (the --before mode)."""
    from core import worker_pool
    from core.runs import RunStore

    cell = dashboard_default().model.cell
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        for w in worker_pool.live_workers(RunStore(store)):
            if cell in (w.get("prewarmed") or {}):
                return time.perf_counter() - started
        time.sleep(0.25)
    return None


def measure(rounds: int, before: bool, darts: bool = True) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from bench import browser as dash
    from core import worker_pool
    from core.runs import RunStore

    rows: dict[str, list] = {"dashboard": [], "cli": [], "darts": []}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        store = Path(tmp) / "models_cache"
        store.mkdir()
        npz = Path(tmp) / "windows.npz"
        windows_npz(npz)
        os.environ.update(_env(store, before))  # the server inherits it (dash.server_env)
        browser = dash.launch_browser(pw)
        server = dash.start_server(store, Path(tmp) / "server.log")
        warm_s = None
        try:
            dash.wait_health(server)
            page = dash.new_page(browser)
            page.set_default_timeout(900_000)
            dash.open_home(page, server.url)  # the first session starts the warm worker
            warm_s = None if before else wait_prewarmed(store, server.started)
            for i in range(rounds):
                print(f"round {i + 1}/{rounds} (load {os.getloadavg()[0]:.1f})", flush=True)
                rows["dashboard"].append(dashboard_once(page, server.url, store))
                rows["cli"].append(cli_once(before))
                epochs = rows["cli"][-1]["epochs"] or 7
                if darts:  # the peer is the same before and after: --no-darts saves it
                    rows["darts"].append(darts_once(npz, epochs))
                print(json.dumps({k: v[-1] for k, v in rows.items() if v}), flush=True)
        finally:
            dash.stop_server(server)
            browser.close()
            for w in worker_pool.live_workers(RunStore(store)):  # its own session
                os.kill(w["pid"], 9)
    return {**_summary(rows, before), "server_start_to_prewarmed_s": warm_s}


def _summary(rows: dict[str, list], before: bool) -> dict[str, Any]:
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in rows.items() if v}
    darts = med.get("darts") or float("nan")
    return {
        "mode": "before (XLA on, cold worker per run)" if before else "after",
        "median_s": med,
        "dashboard_over_darts": med["dashboard"] / darts,
        "cli_over_darts": med["cli"] / darts,
        "rounds": rows,
        "loadavg": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-darts", action="store_true", help="skip the peer (same either way)")
    args = ap.parse_args(argv)
    if not VENV_PY.exists():
        print("bench/ttr.py needs .bench-venv (see bench/requirements-bench.txt)", file=sys.stderr)
        return 2
    out = measure(args.rounds, args.before, not args.no_darts)
    med = out["median_s"]
    print(
        f"{out['mode']}: click to Results {med['dashboard']:.1f} s, CLI {med['cli']:.1f} s, "
        f"Darts {med.get('darts', float('nan')):.1f} s; "
        f"dashboard/Darts {out['dashboard_over_darts']:.2f}, "
        f"CLI/Darts {out['cli_over_darts']:.2f} (load {out['loadavg'][0]:.1f})"
    )
    if out.get("server_start_to_prewarmed_s") is not None:
        print(f"server start to a prewarmed worker: {out['server_start_to_prewarmed_s']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
