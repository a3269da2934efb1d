"""A deep link as a new server's first request still runs the router (app.py).

Streamlit routes a server by its old pages/ discovery until some session has called
st.navigation. So when the first URL a fresh server served was /results?run=... or /train,
the page ran alone: the sidebar listed the files (app, compare, home, ...), and the device,
the job queue, the settings check and the login gate never ran. pages.lib.ui.through_router
now reruns such a request through app.py. The shared dashboard fixture opens Home first, so
this test starts its own server and opens a deep link before anything else.
"""

from __future__ import annotations

import pytest

from bench import browser as dash
from tests.e2e.conftest import _need_browser
from tests.fakes import make_run

pytestmark = pytest.mark.e2e

ROUTER_NAV = ["Home", "Train", "Results", "Compare", "Runs", "Sweeps", "Theory"]


def _nav_titles(page) -> list[str]:
    links = page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]')
    return [text.split("\n")[-1].strip() for text in links.all_inner_texts()]


def test_a_deep_link_as_a_new_servers_first_page_runs_the_router(
    tmp_path, e2e_out, check_page, monkeypatch
):
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("GRADLAB_PREWARM", "0")  # no warm worker: nothing here trains
    store = tmp_path / "models_cache"
    store.mkdir()
    rid = make_run(store, cell="gru", seed=3)
    with sync_playwright() as pw:
        browser = dash.launch_browser(pw)
        try:
            with dash.serving(store, e2e_out / "server_deep_link.log", dash.free_port()) as srv:
                dash.wait_health(srv)
                page = dash.new_page(browser)
                page.set_default_timeout(60_000)
                page.goto(f"{srv.url}/results?run={rid}", wait_until="commit")
                dash.wait_rendered(page, min_charts=1)
                sidebar = page.locator('[data-testid="stSidebarUserContent"]')
                expect(sidebar).to_contain_text("Training device", timeout=30_000)
                expect(sidebar).to_contain_text("Job queue")
                assert _nav_titles(page) == ROUTER_NAV
                # The same page and run as asked: the rerun kept the path and the query.
                assert page.url.endswith(f"/results?run={rid}")
                expect(page.get_by_role("tab", name="Gradients through time")).to_be_visible()
                check_page(page, "deep_link_results")
        finally:
            browser.close()
