"""A newcomer's first script run (router, sidebar, Home) loads neither pandas, pyarrow nor our
plotly figures: importing them was most of the time from `streamlit run` to the first page.

Each case runs the app in a fresh interpreter, so nothing an earlier test imported can hide
an import. Streamlit itself imports part of plotly; what must not appear is any plotly module
beyond those, or core.plots/core.plotkit.
"""

import json
from pathlib import Path

import pytest

from tests.fakes import make_run, run_fresh_python

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest
before = set(sys.modules)
at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
new = set(sys.modules) - before
heavy = ("pandas", "pyarrow", "core.plots", "core.plotkit", "core.data")
print("RESULT", json.dumps({
    "exception": [e.message for e in at.exception],
    "title": [t.value for t in at.title],
    "images": len(at.get("image")),
    "heavy": sorted(m for m in heavy if m in sys.modules),
    "plotly": sorted(m for m in new if m.split(".")[0] in ("plotly", "_plotly_utils")),
}))
"""


def first_run(store_root: Path) -> dict:
    """Home's first script run in a fresh interpreter; what it rendered and imported."""
    env = {"MODELS_CACHE": str(store_root), "PYTHONPATH": str(ROOT)}
    stdout = run_fresh_python(SCRIPT, [str(ROOT / "app.py")], env, timeout=300)
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.slow
@pytest.mark.parametrize("state", [None, "running"], ids=["empty store", "first run training"])
def test_a_newcomers_first_page_loads_no_pandas_pyarrow_or_plotly(store_root, state):
    if state:  # the sidebar's queue and Home's run list read JSON only
        make_run(store_root, cell="gru", state=state)
    got = first_run(store_root)
    assert not got["exception"] and got["title"] == ["Gradient Lab"]
    assert got["images"] == 1  # the bundled ^GSPC, drawn as a static SVG
    assert got["heavy"] == [] and got["plotly"] == []


@pytest.mark.slow
def test_a_finished_run_brings_the_skill_chart_and_with_it_plotly(store_root):
    # The control: the same probe sees the imports when Home draws its plotly chart.
    make_run(store_root, cell="gru", state="done")
    got = first_run(store_root)
    assert not got["exception"]
    assert {"pandas", "core.plots"} <= set(got["heavy"]) and got["plotly"]
