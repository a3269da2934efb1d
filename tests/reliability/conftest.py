"""Reliability suite helpers: a tiny real spec, waiting, store snapshots, and the figures.

Every test here may record a figure (``figures["load.results.p95_s"] = 0.31``); the
terminal summary prints them all at the end, so one run of the suite gives the numbers
docs/RELIABILITY.md quotes. The bad-input catalogue counts its cases the same way.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from core.config import RunSpec
from tests.waiting import wait_for

_FIGURES = pytest.StashKey[dict]()
# The tiny spec every real training here uses: 2 cores shared with other people's work.
TINY_RANGE = ("2017-01-01", "2018-12-31")


def tiny_spec(epochs: int = 2, seed: int = 0) -> RunSpec:
    start, end = TINY_RANGE
    return RunSpec().replace(
        epochs=epochs, units=4, lookback=5, patience=0, seed=seed, start=start, end=end,
        batch_size=64, probe_size=8,
    ).validate()  # fmt: skip


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root with its size and mtime: equal snapshots, untouched store."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.stat()
        out[str(path.relative_to(root))] = (st.st_size if path.is_file() else -1, st.st_mtime_ns)
    return out


def temp_files(root: Path) -> list[str]:
    """Temp files of the atomic writers (core.runs and core.training.save_model) under root."""
    found = [*root.rglob(".tmp-*"), *root.rglob(".*.tmp.keras")]
    return sorted(str(p.relative_to(root)) for p in found)


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The helpers above for test modules (a conftest is not importable by name)."""
    return SimpleNamespace(
        tiny_spec=tiny_spec,
        wait_for=wait_for,
        snapshot=snapshot,
        temp_files=temp_files,
        TINY_RANGE=TINY_RANGE,
    )


@pytest.fixture(scope="session")
def figures(request) -> dict:
    """Session-wide figures printed by pytest_terminal_summary."""
    return request.config.stash.setdefault(_FIGURES, {})


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    figs = config.stash.get(_FIGURES, {})
    if not figs:
        return
    terminalreporter.section("Gradient Lab reliability figures")
    for key in sorted(figs):
        value = figs[key]
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        terminalreporter.write_line(f"{key}: {text}")
