"""The browser suite's fixtures: one real `streamlit run app.py`, one headless chromium.

The server gets a private run store (MODELS_CACHE), a private Yahoo cache and no GPU; it is
started once per session after the browser, so the session fixture also times start ->
first page rendered. Without /usr/bin/chromium (or Playwright) the suite skips locally and
fails under CI, which must run it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bench import browser as dash

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-output" / "e2e"
EXCEPTION = '[data-testid="stException"]'
_CONTENT_HEIGHT_JS = """() => Math.max(document.documentElement.scrollHeight,
  ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
     .map(e => e.scrollHeight))"""
OUR_BUG = "Something went wrong inside Gradient Lab"  # pages.lib.ui.show_error for non-user errors


@dataclass
class Dashboard:
    url: str
    server: dash.Server
    browser: Any
    store_root: Path
    health_s: float
    first_page_s: float
    first_page: Any  # the tab that rendered the first page, left open on it
    journey: dict[str, Any] = field(default_factory=dict)  # run ids handed between tests


def _need_browser() -> None:
    reason = ""
    if not Path(dash.CHROMIUM).exists():
        reason = f"{dash.CHROMIUM} is missing (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is missing (pip install -r requirements-dev.txt)"
    if reason and os.environ.get("CI"):
        pytest.fail(f"e2e browser suite cannot run in CI: {reason}", pytrace=False)
    if reason:
        pytest.skip(f"e2e browser suite skipped: {reason}")


@pytest.fixture(scope="session")
def e2e_out() -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    return OUT


@pytest.fixture(scope="package")
def dashboard(tmp_path_factory, e2e_out) -> Any:
    """A running dashboard and a browser; the first page is opened here, timed from start.
    Package scope: both stop when tests/e2e is done, not at the end of the session, where
    the first page's sidebar kept polling the store every 2 s through the rest of the suite
    (40-50 minutes under CI's load)."""
    _need_browser()
    from playwright.sync_api import sync_playwright

    store = tmp_path_factory.mktemp("e2e") / "models_cache"
    store.mkdir()
    with sync_playwright() as pw:
        browser = dash.launch_browser(pw)  # first, so the timing below is the server's alone
        server = dash.start_server(store, e2e_out / "server.log")
        try:
            health_s = dash.wait_health(server)
            page = dash.new_page(browser)
            page.set_default_timeout(60_000)
            page.goto(server.url, wait_until="commit")
            page.get_by_role("heading", name="Gradient Lab").first.wait_for()
            dash.wait_rendered(page, min_charts=1)
            first_s = time.perf_counter() - server.started
            yield Dashboard(server.url, server, browser, store, health_s, first_s, page)
        finally:
            dash.stop_server(server)
            browser.close()


@pytest.fixture
def page(dashboard):
    """A fresh tab (so a fresh Streamlit session) per test."""
    tab = dash.new_page(dashboard.browser)
    tab.set_default_timeout(60_000)
    yield tab
    tab.close()


def _screenshot(page: Any, path: Path) -> None:
    """The whole page: Streamlit scrolls an inner container, so full_page alone would stop at
    the viewport; the viewport is stretched to the content for the shot, then restored."""
    size = page.viewport_size
    height = page.evaluate(_CONTENT_HEIGHT_JS)
    page.set_viewport_size({"width": size["width"], "height": min(max(height, 600), 12_000)})
    page.wait_for_timeout(300)  # let charts that resize with the container settle
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


@pytest.fixture(scope="session")
def check_page(e2e_out):
    """check_page(page, name): screenshot to test-output/e2e/<name>.png, then fail on any
    exception or internal error on screen."""

    def check(page: Any, name: str) -> None:
        _screenshot(page, e2e_out / f"{name}.png")
        shown = page.locator(EXCEPTION)
        assert shown.count() == 0, f"{name}: exception on screen: {shown.first.inner_text()}"
        bug = page.get_by_text(OUR_BUG)
        assert bug.count() == 0, f"{name}: {bug.first.inner_text()}"

    return check
