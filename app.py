"""Gradient Lab: the router. Page config, the sidebar (device, job queue, docs), navigation.

The server never imports TensorFlow: the device is found by asking nvidia-smi, and training
runs in worker processes that talk to the UI only through the run store.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import streamlit as st

from core import jobs
from core.cells import cell_name
from core.errors import UserError
from core.record_rows import QueueView
from core.records import RunState
from core.runs import budget_from_env
from pages.lib.ui import ROUTED_KEY, act_as_current_user, current_user, login_enabled

ROOT = Path(__file__).resolve().parent
DOCS_URL = os.environ.get("GRADLAB_DOCS_URL", "")  # e.g. the repository's README on the forge
QUEUE_REFRESH_S = 2.0  # the sidebar queue polls the run store; cheap: a few small JSON reads


@st.cache_resource
def training_device() -> str:
    """GPU name the workers will use, or "CPU"; probed once per server, never via TensorFlow."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return "CPU"  # GPUs hidden from the workers, which inherit this environment
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return "CPU"
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv, no user text
            [exe, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "CPU"
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    if out.returncode != 0 or not names:
        return "CPU"
    return names[0] if len(names) == 1 else f"{names[0]} (×{len(names)})"


def _progress_text(job: QueueView) -> tuple[float, str]:
    epoch, epochs = job.epoch or 0, job.epochs or 0
    seed = "?" if job.seed is None else job.seed
    label = f"{cell_name(job.cell or '?')} · {job.ticker or '?'} · seed {seed}"
    if job.state is RunState.QUEUED:
        return 0.0, f"{label}: queued"
    frac = min(epoch / epochs, 1.0) if epochs else 0.0
    return frac, f"{label}: epoch {epoch}/{epochs or '?'}"


@st.fragment(run_every=QUEUE_REFRESH_S)
def job_queue() -> None:
    """Running and queued runs, refreshed on a timer without rerunning the page."""
    try:
        queue = jobs.queue()
    except Exception as exc:  # the sidebar must never take a page down
        st.caption(f"Job queue unavailable ({type(exc).__name__}).")
        return
    if not queue:
        st.caption("No jobs running or queued.")
        return
    for job in map(QueueView.of, queue):
        frac, text = _progress_text(job)
        st.progress(frac, text=text)


def sidebar() -> None:
    with st.sidebar:
        st.markdown(f"**Training device:** {training_device()}")
        st.markdown("**Job queue**")
        job_queue()
        st.divider()
        if DOCS_URL:
            st.markdown(f"[Documentation]({DOCS_URL})")
        else:
            with st.popover("Documentation", icon=":material/menu_book:"):
                readme = ROOT / "README.md"
                st.markdown(readme.read_text() if readme.is_file() else "See docs/ in the repo.")
            st.caption("More in `docs/` of the repository (ARCHITECTURE.md, DEPLOY.md).")


def login_gate() -> bool:
    """With login configured (docs/DEPLOY.md): only a signed-in user gets past; core is told
    who acts, so new runs record their owner and delete/cancel check it. Off: open."""
    act_as_current_user()
    if not login_enabled():
        return True
    if not st.user.get("is_logged_in"):
        st.title("Gradient Lab")
        st.info("Sign in to train, compare and manage runs.")
        st.button("Sign in", on_click=st.login, key="login")
        return False
    with st.sidebar:
        st.caption(f"Signed in as {current_user() or 'unknown'}")
        st.button("Sign out", on_click=st.logout, key="logout")
    return True


st.set_page_config(page_title="Gradient Lab", page_icon=":material/ssid_chart:", layout="wide")
pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/results.py", title="Results", icon=":material/analytics:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page("pages/sweeps.py", title="Sweeps", icon=":material/tune:"),
    st.Page("pages/theory.py", title="Theory", icon=":material/functions:"),
]
page = st.navigation(pages)
st.session_state[ROUTED_KEY] = True  # pages.lib.ui.through_router: this session is routed
try:  # settings read at start: a malformed one is one clear message, not silent misbehaviour
    budget_from_env()
except UserError as exc:
    st.error(str(exc))
    st.stop()
if not login_gate():
    st.stop()
# A worker with TensorFlow loaded waits for the first click (TensorFlow never loads here);
# a failure only means the run starts cold, never a page down.
with contextlib.suppress(Exception):
    jobs.ensure_started(warm=True)
sidebar()
page.run()
