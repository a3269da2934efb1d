"""Load: 8 dashboard sessions browse while 4 real training jobs (one submitted twice) run.

The sessions are separate AppTest instances, each in its own spawned process: AppTest
instances in threads of one process tripped over each other (CPython 3.11 "AST constructor
recursion depth mismatch" in compile(), and session-state KeyErrors). Each session
browses Results (?run=ID), Runs and Compare over fake finished runs, pausing a seeded "think
time" between reruns as a person does. Meanwhile the jobs train tiny real models under
GRADLAB_WORKERS=2 and a sampler counts `running` runs every 50 ms.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import data, jobs
from core.executor import get_executor
from core.runs import RunStore
from tests.fakes import make_run

PAGES = Path(__file__).resolve().parents[2] / "pages"
SESSIONS = 8
WORKERS = 2
THINK_S = (1.0, 3.0)  # a person reads a page (7 charts on Results) before the next click


def _page(name: str, fake_ids: list[str], rid: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    if name == "results":
        at.query_params["run"] = rid
    if name == "compare":
        at.session_state["compare_run_ids"] = fake_ids  # the comparison on screen
    return at


def _browse(i: int, fake_ids: list[str], stop, ready, out: dict, errors: list) -> None:
    """One session: open each page, then rerun it after a think time, until told to stop."""
    rng = random.Random(i)
    rid = fake_ids[i % len(fake_ids)]
    apps = {}
    try:
        for name in ("results", "runs", "compare"):
            apps[name] = _page(name, fake_ids, rid).run()  # cold start: not a rerun
        ready.put(i)
        rounds = 0
        while rounds < 3 or not stop.is_set():
            for name, at in apps.items():
                time.sleep(rng.uniform(*THINK_S))
                t0, c0 = time.perf_counter(), time.process_time()
                at.run()
                out[name].append(time.perf_counter() - t0)
                # CPU seconds of this process (it runs only this session): the page's own cost.
                out[f"{name}.cpu"].append(time.process_time() - c0)
                if at.exception or at.error:
                    errors.append((name, [e.value for e in at.exception], at.error))
            rounds += 1
    except Exception as exc:  # report in the main thread, where pytest sees it
        errors.append(("session", i, repr(exc)))
        if len(apps) < 3:
            ready.put(i)  # never leave the parent waiting for a session that died


def _session(i: int, fake_ids: list[str], stop, ready, results) -> None:
    """Child process body: browse, then hand the timings and any errors back."""
    times: dict[str, list[float]] = defaultdict(list)
    errors: list = []
    _browse(i, fake_ids, stop, ready, times, errors)
    results.put((i, dict(times), [repr(e)[:500] for e in errors]))


def _sample_running(store: RunStore, stop: threading.Event, counts: list[int]) -> None:
    while not stop.is_set():
        counts.append(sum(store.status(r).get("state") == "running" for r in store.run_ids()))
        time.sleep(0.05)


def _submit_all(specs, prices, store) -> list[jobs.Submitted]:
    results: list[jobs.Submitted] = []
    gate = threading.Barrier(len(specs))

    def one(spec):
        gate.wait()  # all submissions race for the same moment
        results.append(jobs.submit(spec, prices, store))

    threads = [threading.Thread(target=one, args=(s,)) for s in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.slow
def test_eight_sessions_browse_while_four_jobs_train(store_root, monkeypatch, kit, figures):
    monkeypatch.setenv("GRADLAB_WORKERS", str(WORKERS))
    spawned: Counter[str] = Counter()
    local = get_executor("local")
    real_launch = local.launch

    def counting_launch(store, rid):
        spawned[rid] += 1
        return real_launch(store, rid)

    monkeypatch.setattr(local, "launch", counting_launch)
    loadavg_before = os.getloadavg()[0]  # how busy the box is before our load starts
    fake_ids = [make_run(store_root, cell=c, seed=s) for c in ("lstm", "gru") for s in (0, 1)]
    prices = data.load_prices("sample", "^GSPC", start=kit.TINY_RANGE[0], end=kit.TINY_RANGE[1])
    store = RunStore(store_root)
    specs = [kit.tiny_spec(seed=s) for s in range(4)]

    # spawn, not fork: an earlier test may have loaded TensorFlow (and its threads) in this
    # process, and forked copies of that crawl. Children inherit the environment.
    ctx = multiprocessing.get_context("spawn")
    stop, ready, results = ctx.Event(), ctx.Queue(), ctx.Queue()
    sessions = [
        ctx.Process(target=_session, args=(i, fake_ids, stop, ready, results))
        for i in range(SESSIONS)
    ]
    for p in sessions:
        p.start()
    for _ in sessions:  # every session has opened its pages before the jobs start
        ready.get(timeout=300)
    sampler_stop, running = threading.Event(), []
    sampler = threading.Thread(target=_sample_running, args=(store, sampler_stop, running))
    sampler.start()
    t0 = time.monotonic()
    submitted = _submit_all([*specs, specs[0]], prices, store)  # specs[0] twice, in parallel
    ids = sorted({s.run_id for s in submitted})
    kit.wait_for(
        lambda: all(store.status(r).get("state") not in ("queued", "running") for r in ids),
        timeout=300,
        what="the four jobs to finish",
    )
    jobs_s = time.monotonic() - t0
    stop.set()
    sampler_stop.set()
    sampler.join()
    times: dict[str, list[float]] = defaultdict(list)
    errors: list = []
    for _ in sessions:
        _, session_times, session_errors = results.get(timeout=180)
        errors += session_errors
        for name, ts in session_times.items():
            times[name] += ts
    for p in sessions:
        p.join(timeout=30)

    assert not errors, errors[:3]
    assert len(ids) == 4 and not any(s.cached for s in submitted)
    assert spawned == Counter(dict.fromkeys(ids, 1)), spawned  # launched once per run, ever
    for rid in ids:
        assert store.status(rid)["state"] == "done", store.status(rid)
        assert [r["epoch"] for r in store.metrics(rid)] == [1, 2]  # trained exactly once
        assert store.is_complete(rid)
    assert max(running) <= WORKERS, max(running)
    assert max(running) >= 1  # the sampler did see training

    figures["load.jobs_wall_s"] = jobs_s
    figures["load.max_concurrent_running"] = max(running)
    figures["load.sessions"] = SESSIONS
    figures["load.think_time_s"] = f"{THINK_S[0]}-{THINK_S[1]}"
    figures["load.loadavg_1min_at_end"] = os.getloadavg()[0]  # the box is shared: context
    for name, ts in sorted(times.items()):
        p50, p95 = np.percentile(ts, [50, 95])
        figures[f"load.{name}.reruns"] = len(ts)
        figures[f"load.{name}.p50_s"] = float(p50)
        figures[f"load.{name}.p95_s"] = float(p95)
        print(f"load: {name:12s} reruns {len(ts):3d}  p50 {p50:.3f}s  p95 {p95:.3f}s")
    print(f"load: 4 jobs in {jobs_s:.1f}s, max concurrent running {max(running)} (limit {WORKERS})")
    p95 = {name: float(np.percentile(ts, 95)) for name, ts in times.items()}
    cpu = {name: v for name, v in p95.items() if name.endswith(".cpu")}
    figures["load.loadavg_1min_before"] = loadavg_before
    # Judged every time, whatever else the machine runs: no errors (above), one worker per
    # run, the slot limit, each run's life in order, every session's reruns, and CPU time.
    assert max(cpu.values()) <= 1.0, cpu  # what a rerun itself costs, whatever else runs
    assert all(len(times[name]) >= 3 * SESSIONS for name in ("results", "runs", "compare"))
    for rid in ids:
        st = store.status(rid)
        assert st["queued_at"] <= st["started_ts"], st
        assert st["started"] <= st["finished"], st  # ISO timestamps sort as text
    # Wall-clock latency is reported (above and in the figures), never judged: it measures how
    # busy the box is as much as the dashboard (even the 20 ms Runs page has waited over a
    # second for a core on this 2-core box). The figures feed docs/RELIABILITY.md.
    print(f"load: wall-clock p95 reported, not judged (load {loadavg_before:.1f} before)")
