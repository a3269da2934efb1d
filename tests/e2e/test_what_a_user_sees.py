"""What a user sees (issue 17), in the browser: every page with finished runs, screenshot by
screenshot. Home's skill chart draws one visible bar per finished run, no page shows raw TeX,
and an offline Yahoo request is one plain line naming the way on.

The finished runs are written by tests.fakes.make_run (complete, instant, deterministic), so
this file runs on its own: `python -m pytest tests/e2e/test_what_a_user_sees.py -m e2e`.
"""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
except ImportError:  # the dashboard fixture then skips, or fails under CI, saying why
    expect = None

from bench import browser as dash
from core import data
from core.runs import RunStore
from tests.fakes import make_run

pytestmark = pytest.mark.e2e

# Raw TeX a reader should never meet: sub/superscript braces and backslash commands.
RAW_TEX = re.compile(r"_\{|\^\{|\\[A-Za-z]{2,}")
# The page's text as a reader meets it: without scripts and styles, and without KaTeX's
# MathML copy of a formula that st.latex drew (its source sits in a hidden annotation).
_TEXT_JS = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('script, style, noscript, .katex-mathml').forEach(e => e.remove());
  return body.textContent;
}"""
# Bars of the skill chart drawn with a size on screen: a bar plotly could not place (a text
# label on a numeric axis) leaves no path or an empty one.
_BARS_JS = """() => {
  const chart = [...document.querySelectorAll('.js-plotly-plot')]
    .find(c => (c.querySelector('.gtitle') || {}).textContent === 'Skill vs the naive forecast');
  if (!chart) return -1;
  return [...chart.querySelectorAll('.barlayer .point path')].filter(p => {
    const box = p.getBoundingClientRect();
    return box.width > 0.5 && box.height > 0.5;
  }).length;
}"""
RESULTS_TABS = (
    "Gradients through time",
    "Spectral radius",
    "Errors vs naive",
    "Spec and downloads",
)


@pytest.fixture(scope="module")
def finished(dashboard) -> dict[str, str]:
    """Three finished runs (LSTM, GRU, SimpleRNN) beside whatever earlier tests trained."""
    return {
        cell: make_run(dashboard.store_root, cell=cell, seed=7) for cell in ("lstm", "gru", "rnn")
    }


def _open(page, url: str, min_charts: int = 0) -> None:
    page.goto(url, wait_until="commit")
    dash.wait_rendered(page, min_charts=min_charts)


def _no_raw_tex(page, name: str) -> None:
    text = page.evaluate(_TEXT_JS)
    found = sorted({m.group(0) for m in RAW_TEX.finditer(text)})
    assert not found, f"{name}: raw TeX on screen: {found}"


def test_home_skill_chart_draws_one_bar_per_finished_run(dashboard, finished, page, check_page):
    _open(page, dashboard.url, min_charts=2)
    rows = RunStore(dashboard.store_root).list_runs()[:5]  # Home lists the five newest
    done = [r for r in rows if r["state"] == "done" and isinstance(r.get("skill"), float)]
    assert page.evaluate(_BARS_JS) == len(done) >= 3
    for row in done:  # readable names, the id as a detail
        assert page.get_by_text(re.compile(re.escape(row["run_id"][:8]))).count() >= 1
    check_page(page, "ux_home")
    _no_raw_tex(page, "home")


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_results_pages_show_no_raw_tex(dashboard, finished, page, check_page, cell):
    _open(page, f"{dashboard.url}/results?run={finished[cell]}", min_charts=4)
    check_page(page, f"ux_results_{cell}")
    _no_raw_tex(page, f"results {cell}")
    for tab in RESULTS_TABS:
        page.get_by_role("tab", name=tab).click()
        page.get_by_role("tab", name=tab, selected=True).wait_for()
        dash.wait_rendered(page, min_charts=3)  # the headline's three, then the tab's own
        slug = tab.split()[0].lower()
        check_page(page, f"ux_results_{cell}_{slug}")
        _no_raw_tex(page, f"results {cell}, {tab}")
    expect(page.get_by_text("Test split:")).to_be_visible()  # settings in words, real dates


# The Runs table's scroller: wider content than box means a horizontal scroll bar.
_SCROLLS_JS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller')]
  .filter(s => s.scrollWidth > s.clientWidth + 1).map(s => [s.scrollWidth, s.clientWidth])"""


@pytest.mark.parametrize("path", ["train", "compare", "runs", "theory"])
def test_other_pages_show_no_raw_tex(dashboard, finished, page, check_page, path):
    _open(page, f"{dashboard.url}/{path}", min_charts=1 if path in ("train", "theory") else 0)
    if path == "runs":  # the table draws on a canvas once its grid is laid out
        page.locator('[data-testid="stDataFrame"] canvas').first.wait_for()
        page.wait_for_timeout(1000)
    check_page(page, f"ux_{path}")
    if path == "runs":
        assert page.viewport_size["width"] == 1400
        wider = page.evaluate(_SCROLLS_JS)
        assert not wider, f"the Runs table scrolls sideways at 1400 px (content, box): {wider}"
    _no_raw_tex(page, path)


def test_offline_yahoo_is_one_plain_line_naming_the_alternatives(dashboard, page, check_page):
    # The server's Yahoo cache (bench.browser.server_env) remembers an outage: offline and
    # deterministic, whether or not this machine could reach Yahoo.
    cache = dashboard.store_root.parent / "yahoo_cache"
    cache.mkdir(exist_ok=True)
    (cache / ".unreachable").touch()
    _open(page, f"{dashboard.url}/train", min_charts=1)
    page.get_by_text("Yahoo Finance", exact=True).click()
    alert = page.locator('[data-testid="stAlertContentError"]').first
    expect(alert).to_be_visible()
    text = alert.inner_text().strip()
    assert text == str(data.YahooUnreachable("AAPL"))
    assert "\n" not in text and "bundled sample" in text and "CSV" in text
    for word in ("curl", "DNS", "Cookie", "crumb", "try again"):
        assert word not in text
    check_page(page, "ux_train_yahoo_offline")
    page.get_by_role("button", name="Use the bundled AAPL sample").click()  # an explicit choice
    expect(page.get_by_role("radio", name="Bundled sample")).to_be_checked()
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    check_page(page, "ux_train_yahoo_fallback")
