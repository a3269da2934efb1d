"""Side figures for bench/run.py: data loading, a training worker's memory, the dashboard.

Each probe returns a dict and never raises for a missing optional part: a benchmark that
dies on its last section loses every figure before it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]


def _median_seconds(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def data_figures(lookback: int, repeats: int = 5) -> dict:
    """Bundled load, Yahoo-cache hit (network mocked to fail) and window build, in ms."""
    from core import data
    from core.config import DataSpec
    from core.dataset import make_dataset

    first = time.perf_counter()
    prices = data.load_prices("sample", "^GSPC")
    first_ms = (time.perf_counter() - first) * 1e3
    bundled, _ = _median_seconds(lambda: data.load_prices("sample", "^GSPC"), repeats)
    with tempfile.TemporaryDirectory() as tmp:
        data._write_cache(prices, data._cache_path(Path(tmp), "^GSPC"))

        def offline(*_a, **_k):
            raise AssertionError("the Yahoo cache hit must not touch the network")

        from core import data_yahoo  # the Yahoo half of core.data, where the download lives

        with mock.patch.object(data_yahoo, "_download", offline):
            cached, df = _median_seconds(
                lambda: data.load_prices("yahoo", "^GSPC", cache_dir=tmp), repeats
            )
    spec = DataSpec(ticker="^GSPC", lookback=lookback)
    windows, ds = _median_seconds(lambda: make_dataset(prices, spec), repeats)
    return {
        "bundled_first_load_ms": round(first_ms, 2),
        "bundled_load_ms": round(bundled * 1e3, 2),
        "yahoo_cache_hit_ms": round(cached * 1e3, 2),
        "yahoo_cache_source": df.attrs.get("source"),
        "window_build_ms": round(windows * 1e3, 2),
        "rows": len(prices),
        "train_windows": len(ds.train.x),
    }


def worker_memory(epochs: int = 1, timeout_s: float = 300.0) -> dict:
    """Peak RSS (process + children) of `python -m core train` on the benchmark task."""
    import psutil

    cmd = [sys.executable, "-m", "core", "train", "--cell", "lstm", "--layers", "2"]
    cmd += ["--units", "64", "--lookback", "60", "--epochs", str(epochs), "--json"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MODELS_CACHE": tmp, "TF_CPP_MIN_LOG_LEVEL": "3"}
        env["GRADLAB_YAHOO_CACHE"] = str(Path(tmp) / "_yahoo")
        t0 = time.perf_counter()
        proc = psutil.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        peak = 0
        while proc.poll() is None and time.perf_counter() - t0 < timeout_s:
            peak = max(peak, _tree_rss(proc))
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
        proc.wait()
    out = {
        "peak_rss_mb": round(peak / 2**20, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "exit_code": proc.returncode,
        "command": " ".join(cmd[1:]),
    }
    if proc.returncode != 0:
        out["stderr_tail"] = err
    return out


def _tree_rss(proc) -> int:
    import psutil

    try:
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs)
    except psutil.Error:
        return 0


def dashboard_figures(timeout_s: float = 420.0) -> dict:
    """bench/dashboard.py --json, when that file exists; its last stdout line."""
    script = ROOT / "bench" / "dashboard.py"
    if not script.exists():
        return {"status": "skipped", "reason": "bench/dashboard.py is not there"}
    cmd = [sys.executable, str(script), "--json", "--epochs", "1", "--repeats", "2"]
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"no answer within {timeout_s:.0f} s"}
    lines = done.stdout.strip().splitlines()
    try:
        return {"status": "ok", **json.loads(lines[-1])}
    except (IndexError, json.JSONDecodeError):
        return {"status": "failed", "exit_code": done.returncode, "stderr": done.stderr[-300:]}


def machine() -> dict:
    import psutil

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
