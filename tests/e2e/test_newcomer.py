"""A newcomer's first half hour, in a real browser, with the speed figures issue 4 asks for.

Home -> Train a small GRU on ^GSPC and watch it live -> its Results -> Compare LSTM and GRU
-> train on an uploaded CSV -> Runs and Theory. The tests run in file order and share one
server (tests/e2e/conftest.py); each opens a fresh tab. Run with
`python -m pytest tests/e2e -m e2e -x -s -q` to see the figures printed.
"""

from __future__ import annotations

import os
import re
import statistics
import time

import pytest

try:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # two busy cores: a rerun can take seconds
except ImportError:  # the dashboard fixture then skips, or fails under CI, saying why
    expect = None

from bench import browser as dash
from core import data
from core.runs import RunStore

pytestmark = pytest.mark.e2e

EPOCHS = 2  # small settings: each training on two busy cores still takes 20-90 s
TRAIN_MS = 300_000
COMPARE_MS = 600_000
# Render times are printed, never judged here: a busy machine is not a defect. Their targets
# (first page 3 s, Results warm 1.5 s) are measured by bench/dashboard.py.
WARM_REPEATS = 3
RSS_MAX_MB = 400.0
LIVE = re.compile(r"Epoch \d+/\d+|Queued")  # the Train page's progress text while a run is active


def _open(page, url: str, min_charts: int = 0) -> None:
    page.goto(url, wait_until="commit")
    dash.wait_rendered(page, min_charts=min_charts)


def _train_and_watch(page, timeout_ms: float = TRAIN_MS) -> str:
    """Press Train, see the live view, wait until the page says it finished; the run id."""
    page.get_by_role("button", name="Train", exact=True).click()
    heading = page.locator("h3", has_text=dash.RUN_HEADING).first
    heading.wait_for()
    page.get_by_text(LIVE).first.wait_for()
    page.get_by_text("Training finished.").wait_for(timeout=timeout_ms)
    dash.wait_rendered(page, min_charts=2)  # the final loss and gradient-norm curves
    return dash.RUN_HEADING.search(heading.inner_text()).group(1)


def _charts_visible(page) -> int:
    charts = page.locator(".js-plotly-plot")
    return sum(charts.nth(i).is_visible() for i in range(charts.count()))


def test_home_page_first_render(dashboard, check_page):
    page = dashboard.first_page
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n[e2e] {os.cpu_count()} CPUs, load average {load}")
    print(f"[e2e] start -> /_stcore/health: {dashboard.health_s:.2f} s")
    print(f"[e2e] start -> first page rendered in the browser: {dashboard.first_page_s:.2f} s")
    expect(page.get_by_text("No runs yet").first).to_be_visible()
    expect(page.get_by_role("link", name="Train a model")).to_be_visible()
    # Home's price chart is a static SVG image: the first page loads no plotly.js
    expect(page.locator('[data-testid="stImage"] img').first).to_be_visible()
    assert page.locator(".js-plotly-plot").count() == 0
    check_page(page, "home")


def test_train_gru_live_then_results(dashboard, page, check_page):
    _open(page, dashboard.url + "/train", min_charts=1)
    page.get_by_label("Cell", exact=True).click()
    page.get_by_role("option", name="GRU", exact=True).click()
    dash.set_number(page, "Epochs", EPOCHS)
    with dash.PeakRss(dashboard.server.proc.pid) as rss:
        run_id = _train_and_watch(page)
    print(
        f"\n[e2e] server peak RSS while a run trained: {rss.peak_mb:.1f} MB ({rss.samples} samples)"
    )
    spec = RunStore(dashboard.store_root).spec(run_id)
    assert (spec.model.cell, spec.data.ticker, spec.train.epochs) == ("gru", "^GSPC", EPOCHS)
    expect(page.get_by_text("Test RMSE (price)")).to_be_visible()
    check_page(page, "train")
    dashboard.journey["gru"] = run_id

    page.get_by_role("link", name="Open in Results").click()
    page.wait_for_url(re.compile(rf"/results\?run={run_id}"))
    dash.wait_rendered(page, min_charts=4)
    assert _charts_visible(page) >= 4
    cards = page.locator('[data-testid="stMetric"]')
    expect(cards.nth(4)).to_be_visible()  # all five cards: RMSE, MAE, MAPE, direction, skill
    assert all(cards.nth(i).is_visible() for i in range(5))
    for label in ("RMSE", "Directional accuracy", "Skill vs naive"):
        expect(cards.filter(has_text=label).first).to_be_visible()
    check_page(page, "results")
    assert rss.samples >= 10 and rss.peak_mb < RSS_MAX_MB


def test_results_page_cold_render(dashboard, page):
    run_id = dashboard.journey.get("gru")
    if run_id is None:
        pytest.fail("the GRU run of the previous test is missing", pytrace=False)
    seconds = dash.timed_open(page, f"{dashboard.url}/results?run={run_id}", min_charts=4)
    charts = page.locator(".js-plotly-plot").count()
    print(
        f"\n[e2e] finished run's Results page, cold (fresh browser context) -> last of {charts}"
        f" charts: {seconds:.2f} s"
    )
    assert charts >= 4


def test_results_page_warm_render(dashboard):
    """A returning user: Home already open in the browser, then the run's Results page, by its
    URL (a reload from the HTTP cache) and by Home's recent-run link (in-app navigation)."""
    run_id = dashboard.journey.get("gru")
    if run_id is None:
        pytest.fail("the GRU run of an earlier test is missing", pytrace=False)
    context = dash.new_context(dashboard.browser)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    try:
        by_url = [dash.warm_results_by_url(tab, dashboard.url, run_id) for _ in range(WARM_REPEATS)]
        by_click = [
            dash.warm_results_by_click(tab, dashboard.url, run_id) for _ in range(WARM_REPEATS)
        ]
        assert _charts_visible(tab) >= 4
    finally:
        context.close()
    url_s, click_s = statistics.median(by_url), statistics.median(by_click)
    runs = " ".join(f"{x:.2f}" for x in by_url + by_click)
    print(
        f"\n[e2e] Results page, warm (Home open first), median of {WARM_REPEATS}: by URL"
        f" {url_s:.2f} s, by Home's run link {click_s:.2f} s (runs: {runs})"
    )


def test_compare_lstm_and_gru(dashboard, page, check_page):
    _open(page, dashboard.url + "/compare")
    tags = page.locator('[data-testid="stMultiSelect"] .react-aria-ComboBox [data-tag]')
    tags.first.wait_for()
    chosen = {tags.nth(i).get_attribute("aria-label") for i in range(tags.count())}
    assert chosen == {"LSTM", "GRU"}  # the default cells are the comparison we want
    dash.set_number(page, "Epochs", EPOCHS)
    slider = page.locator('[data-testid="stSlider"]', has_text="Seeds per cell")
    seeds = slider.get_by_role("slider")
    seeds.focus()
    seeds.press("Home")  # the slider's minimum: one seed per cell
    assert seeds.input_value() == "1"
    assert slider.get_by_test_id("stSliderThumbValue").inner_text() == "1"
    start = time.perf_counter()
    page.get_by_role("button", name="Compare", exact=True).click()
    # "Test metrics (^GSPC, test split …): mean ± std over runs": the table's heading
    page.get_by_text(re.compile(r"Test metrics .*: mean ± std over runs")).wait_for(
        timeout=COMPARE_MS
    )
    dash.wait_rendered(page, min_charts=3)
    print(
        f"\n[e2e] Compare LSTM vs GRU, 1 seed, {EPOCHS} epochs: {time.perf_counter() - start:.1f} s"
    )
    table = page.locator('[data-testid="stDataFrame"]').first
    expect(table).to_be_visible()
    expect(page.get_by_text("LSTM vs GRU:")).to_be_visible()  # the Diebold-Mariano verdict
    assert _charts_visible(page) >= 3
    check_page(page, "compare")


def test_train_on_uploaded_csv(dashboard, page, check_page, tmp_path):
    prices = data.load_prices(source="sample", ticker="^GSPC").tail(400)
    csv = tmp_path / "my_prices.csv"
    prices[["close"]].reset_index().to_csv(csv, index=False)  # columns: date, close
    _open(page, dashboard.url + "/train", min_charts=1)
    page.get_by_text("CSV upload", exact=True).click()
    page.get_by_text("Upload a CSV").wait_for()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv))
    page.get_by_text("400 days").wait_for()  # the preview of the uploaded series
    dash.wait_rendered(page, min_charts=1)
    dash.set_number(page, "Epochs", EPOCHS)
    run_id = _train_and_watch(page)
    spec = RunStore(dashboard.store_root).spec(run_id)
    assert (spec.data.source, spec.model.cell) == ("csv", "lstm")
    assert spec.data.ticker == "my-prices"  # named by the file (editable), not "CSV"
    check_page(page, "train_csv")


def test_runs_and_theory_pages(dashboard, page, check_page):
    _open(page, dashboard.url + "/runs")
    page.get_by_role("heading", name="Runs").first.wait_for()
    caption = page.get_by_text(re.compile(r"\d+ runs using"))
    expect(caption).to_be_visible()
    # GRU on ^GSPC, LSTM and GRU from Compare, the CSV run. Train and Compare open on the same
    # range and settings, so Compare's GRU is Train's run served from the store: 3 runs, not 4.
    assert caption.inner_text().startswith("3 runs using")
    check_page(page, "runs")
    _open(page, dashboard.url + "/theory", min_charts=1)
    assert _charts_visible(page) >= 1
    check_page(page, "theory")
