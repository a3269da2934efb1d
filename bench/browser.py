"""Driving the dashboard from outside: start a server on a private store, open its pages in
Debian's chromium through Playwright, wait for them to be drawn, act as a user (Train a run,
open Results), and watch the server's memory. bench/dashboard.py times these steps,
bench/ttr.py times a run end to end, and the e2e suite (tests/e2e) uses them to look.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
HOME_TITLE, HOME_CHARTS = "Gradient Lab", 1  # h1 and charts (its SVG price image) of Home
# st.navigation names a page's URL after its file: pages/results.py -> /results
RESULTS_TITLE, RESULTS_PATH, RESULTS_CHARTS = "Results", "results", 4
RUN_HEADING = re.compile(r"Run ([0-9a-f]{16})")
# The page's title is on screen (before the first script run the app can already read
# notRunning), the script run is over and every chart is drawn: a plotly chart without
# .main-svg is still loading plotly.js or laying out, an image is drawn once loaded; at least
# min_charts of them. args = [min_charts, title or null].
# The title tells an in-app navigation's new page from the old one still on screen.
_RENDERED_JS = """([minCharts, title]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const heads = [...document.querySelectorAll('h1')];
  if (!heads.length || (title && !heads.some(h => h.textContent.includes(title)))) return false;
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const images = [...document.querySelectorAll('[data-testid="stImage"] img')];
  if (plots.length + images.length < minCharts) return false;
  return plots.every(c => c.querySelector('.main-svg') && c.getBoundingClientRect().height > 0)
    && images.every(i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().height > 0);
}"""


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    started: float  # time.perf_counter() just before Popen
    log_path: Path
    _log: Any = field(default=None, repr=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(store_root: Path) -> dict[str, str]:
    """The server's environment: a private run store and Yahoo cache, CPU-only workers."""
    env = dict(os.environ)
    env.update(
        MODELS_CACHE=str(store_root),
        GRADLAB_YAHOO_CACHE=str(store_root.parent / "yahoo_cache"),
        CUDA_VISIBLE_DEVICES="",
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    return env


def start_server(store_root: Path, log_path: Path, port: int | None = None) -> Server:
    """`streamlit run app.py` in its own process group; returns at once (see wait_health)."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    cmd += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")  # noqa: SIM115 - closed in stop_server
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=server_env(store_root),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # killpg takes the server and anything left in its group
    )
    return Server(proc, f"http://127.0.0.1:{port}", started, log_path, log)


def wait_health(server: Server, timeout_s: float = 60.0) -> float:
    """Seconds from start to the first 'ok' of /_stcore/health; RuntimeError if it never comes."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.proc.returncode}: {_tail(server)}")
        try:
            with urllib.request.urlopen(server.url + "/_stcore/health", timeout=1) as r:  # noqa: S310
                if r.status == 200:
                    return time.perf_counter() - server.started
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"streamlit not healthy after {timeout_s:.0f} s: {_tail(server)}")


def _tail(server: Server, n: int = 2000) -> str:
    try:
        return server.log_path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


def stop_server(server: Server, grace_s: float = 5.0) -> None:
    """Stop the server's process group and every worker it spawned (workers have their own
    sessions so a cancel kills exactly one run; here they must go too)."""
    try:
        kids = psutil.Process(server.proc.pid).children(recursive=True)
    except psutil.Error:
        kids = []
    _signal(server, kids, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.proc.wait(timeout=grace_s)
    _, alive = psutil.wait_procs(kids, timeout=grace_s)
    if server.proc.poll() is None or alive:
        _signal(server, alive, signal.SIGKILL)
        server.proc.wait(timeout=grace_s)
    if server._log is not None:
        server._log.close()


def _signal(server: Server, procs: list[psutil.Process], sig: int) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, sig)


def launch_browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)


def new_page(browser: Any) -> Any:
    """A tab in a fresh browser context: empty HTTP cache, new Streamlit session."""
    return browser.new_page(viewport=VIEWPORT)


def new_context(browser: Any) -> Any:
    """A browser context to open several tabs in: they share its HTTP cache."""
    return browser.new_context(viewport=VIEWPORT)


def wait_rendered(
    page: Any, min_charts: int = 0, timeout_ms: float = 60_000, title: str | None = None
) -> None:
    """Until the script run is over and every plotly chart (at least min_charts) is drawn,
    under an h1 containing title when given."""
    page.wait_for_function(_RENDERED_JS, arg=[min_charts, title], timeout=timeout_ms)


def timed_open(
    page: Any, url: str, min_charts: int, timeout_ms: float = 60_000, title: str | None = None
) -> float:
    """Seconds from navigation start to the page rendered (see wait_rendered)."""
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    wait_rendered(page, min_charts, timeout_ms, title)
    return time.perf_counter() - start


def open_home(page: Any, base_url: str, timeout_ms: float = 60_000) -> None:
    page.goto(base_url, wait_until="commit")
    wait_rendered(page, HOME_CHARTS, timeout_ms, HOME_TITLE)


def warm_results_by_url(page: Any, base_url: str, run_id: str) -> float:
    """A returning user: Home rendered in this tab, then the run's shared link opened in it."""
    open_home(page, base_url)
    url = f"{base_url}/{RESULTS_PATH}?run={run_id}"
    return timed_open(page, url, RESULTS_CHARTS, title=RESULTS_TITLE)


def warm_results_by_click(page: Any, base_url: str, run_id: str) -> float:
    """Home rendered, then its recent-run link clicked: Streamlit switches page in place."""
    open_home(page, base_url)
    link = page.locator(f'a[href*="run={run_id}"]').first
    start = time.perf_counter()
    link.click()
    wait_rendered(page, RESULTS_CHARTS, title=RESULTS_TITLE)
    seconds = time.perf_counter() - start
    path = urllib.parse.urlsplit(page.url).path
    if not path.endswith("/" + RESULTS_PATH):  # the link must land where the URL figure went
        raise RuntimeError(f"Home's run link led to {page.url}, not /{RESULTS_PATH}")
    return seconds


class PeakRss:
    """Peak RSS of one process, sampled every interval_s in a thread: `with PeakRss(pid) as p`."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self._proc = psutil.Process(pid)
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_bytes = 0
        self.samples = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self._proc.memory_info().rss)
                self.samples += 1
            except psutil.Error:
                return
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


def set_number(page: Any, label: str, value: int | float) -> None:
    """Type into a Streamlit number_input; Tab commits it without submitting the form."""
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Tab")


def click_train_and_wait(page: Any, timeout_ms: float = 240_000) -> str:
    """Press the Train form's button; wait for 'Training finished.'; return the run id."""
    page.get_by_role("button", name="Train", exact=True).click()
    heading = page.locator("h3", has_text=RUN_HEADING).first
    heading.wait_for(timeout=60_000)
    page.get_by_text("Training finished.").wait_for(timeout=timeout_ms)
    match = RUN_HEADING.search(heading.inner_text())
    if match is None:
        raise RuntimeError("the Train page shows no run id")
    return match.group(1)


def train_gru(page: Any, base_url: str, epochs: int, timeout_ms: float = 240_000) -> str:
    """A newcomer's first run: ^GSPC bundled sample, GRU, defaults except epochs."""
    page.goto(base_url + "/train")
    wait_rendered(page, min_charts=1)
    page.get_by_label("Cell", exact=True).click()
    page.get_by_role("option", name="GRU", exact=True).click()
    set_number(page, "Epochs", epochs)
    return click_train_and_wait(page, timeout_ms)


@contextlib.contextmanager
def serving(store_root: Path, log_path: Path, port: int) -> Any:
    """`with serving(...) as server`: a started server, stopped with its workers on exit."""
    server = start_server(store_root, log_path, port)
    try:
        yield server
    finally:
        stop_server(server)
