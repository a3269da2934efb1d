"""bench/: the FLOP count, the peer's series, the skipped-peer report, a --tiny end-to-end run."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def _load(name):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flops_count_input_and_recurrent_matmuls_of_every_layer():
    gflops = _load("gflops")
    # 2 x 64 LSTM on one feature, T=60: layer 0 sees 1 input, layer 1 sees 64.
    lstm = 60 * 2 * 4 * 64 * (1 + 64) + 60 * 2 * 4 * 64 * (64 + 64)
    assert gflops.forward_flops_per_sample("lstm", 2, 64, 60, 1) == lstm
    assert gflops.forward_flops_per_sample("gru", 2, 64, 60, 1) == lstm * 3 / 4
    assert gflops.forward_flops_per_sample("rnn", 2, 64, 60, 1) == lstm / 4
    assert gflops.train_flops_per_sample("lstm", 2, 64, 60, 1) == 3 * lstm
    assert gflops.achieved(1000.0, 2e7, 40.0) == {"gflops": 20.0, "fraction_of_peak": 0.5}


def test_peer_series_yields_exactly_our_windows():
    peers = _load("peers")
    t, n = 5, 9
    days = np.random.default_rng(0).normal(size=n + t).astype(np.float32)
    x = np.lib.stride_tricks.sliding_window_view(days[:-1], t)[..., None]  # (n, t, 1)
    y = days[t:]
    series = peers.series_from_windows(x, y)
    assert series.dtype == np.float32 and len(series) == n + t
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], t)
    np.testing.assert_array_equal(windows, x[..., 0])
    np.testing.assert_array_equal(series[t:], y)


def test_missing_bench_venv_is_reported_with_the_command(monkeypatch, tmp_path):
    run = _load("run")
    monkeypatch.setattr(run, "VENV_PY", tmp_path / "no-venv" / "bin" / "python")
    server, info = run.start_peer((), threads=0, tmp=str(tmp_path))
    assert server is None and info["status"] == "skipped"
    assert info["fix"].startswith("python3 -m venv .bench-venv")
    assert "bench/requirements-bench.txt" in info["fix"]


def test_yahoo_cache_hit_is_timed_offline(store_root):
    probes = _load("probes")
    figures = probes.data_figures(lookback=60, repeats=1)
    assert figures["yahoo_cache_source"] == "yahoo-cache"
    assert figures["train_windows"] > 1000 and figures["window_build_ms"] > 0


@pytest.mark.slow
def test_tiny_run_exits_zero_with_json_last_line(store_root):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--tiny", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,  # a hang guard for a saturated box, not a speed target
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # Ours and plain Keras run the same network in lockstep: their ratio is near 1 on any
    # machine (figures: docs/BENCHMARKS.md); a factor 3 either way means one arm is broken.
    assert 1 / 3 < result["overhead_ratio"] < 3, result["overhead_ratio"]
    sps, achieved = result["samples_per_s"]["lstm"], result["achieved"]["lstm"]
    assert sps > 0
    # The achieved GFLOP/s is this run's throughput times the model's FLOPs, under the peak.
    flops = achieved["train_mflop_per_sample"] * 1e6
    assert achieved["gflops"] == pytest.approx(sps * flops / 1e9, rel=0.01, abs=0.01)
    assert 0 < achieved["fraction_of_peak"] <= 1
    assert result["peer"]["status"] == "skipped"


@pytest.mark.slow
def test_peer_server_answers_one_json_line_per_request(tmp_path):
    run = _load("run")
    if not run.VENV_PY.exists():
        pytest.skip(f".bench-venv is missing: {run.VENV_CMD}")
    rng = np.random.default_rng(0)
    days = rng.normal(size=200).astype(np.float32)
    x = np.lib.stride_tricks.sliding_window_view(days[:-1], 10)[..., None].copy()
    data = (x[:128], days[10:138], x[128:160], days[138:170])
    server, info = run.start_peer(data, threads=1, tmp=str(tmp_path))
    try:
        assert info["status"] == "ok" and info["torch"].startswith("2.13.0")
        assert "+cpu" in info["torch"] and info["torch_threads"] == 1
        for peer in ("torch", "darts"):
            sps, cpu_sps = server.run(peer, "gru", 1)
            assert sps > 0 and cpu_sps > 0
    finally:
        server.close()
    assert server.proc.returncode == 0


def test_gpu_bench_reports_every_batch_and_the_speed_up_over_a_baseline(tmp_path):
    # bench/gpu.py on this CPU (TensorFlow) with a made-up baseline: ours, plain, the
    # recorder's per-epoch time, and speed-up = ours / the baseline's ours.
    baseline = tmp_path / "cpu.log"
    fig = {"rnn": {"32": {"ours": 1.0}}}
    baseline.write_text("a log line\n" + json.dumps({"figures": fig}) + "\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = ["--cells", "rnn", "--batches", "32,512", "--repeats", "1", "--epochs", "1",
            "--units", "8", "--lookback", "10"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(BENCH / "gpu.py"), *args, "--baseline", str(baseline), "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["backend"] == "tensorflow" and set(out["figures"]["rnn"]) == {"32", "512"}
    small, large = out["figures"]["rnn"]["32"], out["figures"]["rnn"]["512"]
    assert small["ours"] > 0 and small["plain"] > 0 and small["recorder_ms"] > 0
    assert small["speedup"] == round(small["ours"], 2) and large["speedup"] is None
    assert "2 x 8 units, lookback 10;" in proc.stdout  # the model the figures are for
