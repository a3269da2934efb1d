"""What the data shows, on the pages: run words, the memory horizon card, the memory preset.

Sentences come from core.insight (built from each run's numbers); the preset's runs and its
report from core.memory_preset, the same as `python -m core compare --preset memory`.
Never imports tensorflow/keras; pandas and plotly only where Compare already has them.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import insight
from core.errors import UserError
from core.record_rows import GradientsView, RecordView
from core.record_views import SummaryView

COMPARE_PAGE = "pages/compare.py"
START_KEY = "memory_preset_start"  # set by a preset button, consumed by Compare's panel
PRESET_HELP = (
    "SimpleRNN, LSTM and GRU on the marked-memory task (remember one number for 40 steps), "
    "3 seeds each, each cell at its own learning rate: about 9 short runs in the background."
)


def preset_button(key: str) -> None:
    """One click: open Compare and start (or reopen) the memory preset there."""
    if st.button("Run the memory preset", key=key, help=PRESET_HELP, icon=":material/science:"):
        st.session_state[START_KEY] = True
        st.switch_page(COMPARE_PAGE, query_params={"preset": "memory"})


def run_words(record: RecordView | None, summary: SummaryView, gtt: GradientsView) -> None:
    """'What this run shows': every sentence from this run's recorded numbers."""
    spec = record.spec if record else {}
    sentences = insight.run_sentences(spec, summary.raw, gtt.raw or None)
    if "memory_horizon" in summary.raw:  # recorded, even as None (no horizon found)
        left, right = st.columns(2)
        horizon_card(left, summary)
        shown = ", ".join(f"{f:.3f}" for f in summary.step_factors)
        right.metric(
            "Step factor per layer",
            shown or "n/a",
            help="Mean per-step gain of a gradient flowing back along each layer's state "
            "(kept weights, probe batch): over k steps it scales by about factor^k.",
        )
    if sentences:
        st.markdown("**What this run shows**\n\n" + "\n".join(f"- {s}" for s in sentences))


def horizon_card(col: Any, summary: SummaryView) -> None:
    value, help_text = insight.horizon_card(summary.raw)
    col.metric("Memory horizon", value, help=help_text)


@st.cache_data(show_spinner="Preparing the memory task…", max_entries=2)
def _preset_ids(seeds: int) -> list[dict]:
    from core import memory_preset, tasks
    from core.config import run_id

    out, fps = [], {}
    for cell, seed, spec in memory_preset.specs(seeds):
        key = repr(spec.data)
        fps.setdefault(key, tasks.fingerprint(spec.data))  # one task, hashed once
        out.append({"run_id": run_id(spec, fps[key]), "cell": cell, "seed": seed})
    return out


def _start(seeds: int) -> None:
    from core import jobs, memory_preset

    for _, _, spec in memory_preset.specs(seeds):
        jobs.submit(spec, None)  # finished runs are reused, running ones left alone


def preset_panel(store: Any) -> None:
    """Compare's memory-preset section: start it, watch it, read the result in words."""
    from core import memory_preset

    wanted = st.query_params.get("preset") == "memory" or st.session_state.get(START_KEY)
    with st.expander("Memory preset: the vanishing gradient, shown", expanded=bool(wanted)):
        st.caption(PRESET_HELP)
        start = st.button("Run the memory preset", key="compare_preset_run")
        try:
            if start or st.session_state.pop(START_KEY, False):
                _start(memory_preset.SEEDS)
            runs = _preset_ids(memory_preset.SEEDS)
            for r in runs:
                r["run_dir"] = str(store.run_dir(r["run_id"]))
            present = [r for r in runs if store.run_dir(r["run_id"]).exists()]
            if not present:
                st.info(
                    "Not run yet: press the button (CLI: python -m core compare --preset memory)."
                )
                return
            _preset_report(memory_preset.report(store, present), len(runs))
        except UserError as exc:
            st.error(str(exc))


def _preset_report(rep: dict, total: int) -> None:
    done = sum(c["done"] for c in rep["cells"].values())
    if done < total:
        st.info(f"{done} of {total} preset runs finished; refresh to see the rest.")
    for cell, c in rep["cells"].items():
        st.markdown("- " + insight.preset_sentence(cell, c, rep["lag"]))
    for cell in rep["cells"]:
        ids = [r for r in rep["runs"] if r["cell"] == cell]
        links = " · ".join(f"[seed {r['seed']}](/results?run={r['run_id']})" for r in ids)
        st.caption(f"{insight.CELL_NAMES[cell]} runs: {links}")


def horizon_by_cell(store: Any, ids: list[str]) -> None:
    """Memory horizon per cell, mean ± std over the runs on screen (Compare)."""
    per_cell: dict[str, list[int]] = {}
    for rid in ids:
        h = SummaryView.of(store.summary(rid)).memory_horizon
        if h is not None:
            per_cell.setdefault(store.spec(rid).model.cell, []).append(h)
    if per_cell:
        parts = [insight.horizon_summary(cell, hs) for cell, hs in per_cell.items()]
        st.caption("Memory horizon (kept weights, mean ± std over seeds): " + " · ".join(parts))
