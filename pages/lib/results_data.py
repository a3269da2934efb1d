"""Results' reads and figures: every file of one run, read once per modification time into
typed views (core/record_views.py), and its figures built once and shared by sessions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from core import plots, plots_compare
from core.record_rows import GradientsView, RecordView
from core.record_views import MetricsRowView, SummaryView, integer, rows_of
from core.runs import RunStore
from pages.lib.ui import cell_color


@dataclass(frozen=True)
class RunFiles:
    """One run's files as Results shows them; ``problems``: each file that could not be read."""

    record: RecordView | None = None  # None: spec.json unreadable
    rows: tuple[MetricsRowView, ...] = ()
    raw_rows: list[dict[str, Any]] = field(default_factory=list)  # for the plots
    gtt: GradientsView = field(default_factory=GradientsView)
    pred: Any = field(default=None, compare=False)  # the predictions DataFrame, or None
    summary: SummaryView = field(default_factory=SummaryView)
    complete: bool = False  # every checksummed artifact matches
    has_model: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def cell(self) -> str:
        """The run's cell ('lstm' when its spec.json is unreadable)."""
        return (self.record.cell if self.record else None) or "lstm"

    @property
    def kept_epoch(self) -> int | None:
        """The epoch whose weights model.keras, the predictions and the metrics come from:
        as the run recorded it, else as core.training chose it (early stopping restores the
        best epoch where patience > 0; without it the last epoch's weights stay)."""
        if self.gtt.kept_epoch is not None:
            return self.gtt.kept_epoch
        patience = integer(self.record.setting("train", "patience")) if self.record else None
        if patience == 0:
            return len(self.rows) or None
        return self.summary.best_epoch or None

    @property
    def kept_norms(self) -> list[float | None]:
        """The probe of the kept weights: as recorded, else the per-epoch probe of that
        epoch (the same weights; runs written before "kept" existed have only that)."""
        gtt, epoch = self.gtt, self.kept_epoch
        if gtt.kept_norms or epoch not in gtt.epochs[: len(gtt.norms)]:
            return gtt.kept_norms
        return gtt.norms[gtt.epochs.index(epoch)]

    @property
    def kept_label(self) -> str:
        """'weights kept (best epoch k)', or 'weights kept (last epoch k)' without early
        stopping."""
        epoch, best = self.kept_epoch, self.summary.best_epoch
        if epoch is None:
            return "weights kept"
        which = "best" if epoch == best else "last"
        return f"weights kept ({which} epoch {epoch})"


def newest_mtime(run_dir: Any) -> float:
    """Newest modification time in the run directory: the cache key of its contents."""
    try:
        with os.scandir(run_dir) as entries:
            return max((e.stat().st_mtime for e in entries), default=0.0)
    except FileNotFoundError:
        return 0.0


def _read(problems: list[str], name: str, reader: Any, *args: Any) -> Any:
    # A hand-edited or half-copied file must give a message, never a traceback.
    try:
        return reader(*args)
    except Exception as exc:  # any unreadable file is reported the same way
        problems.append(f"{name} could not be read ({type(exc).__name__})")
        return None


@st.cache_data(max_entries=16, show_spinner=False)
def load_run(root: str, run_id: str, stamp: float) -> RunFiles:
    """Every artifact of one run; ``stamp`` (newest mtime) invalidates the cache on change."""
    store = RunStore(root)
    problems: list[str] = []
    record = _read(problems, "spec.json", store.record, run_id)
    rows = _read(problems, "metrics.jsonl", store.metrics, run_id) or []
    return RunFiles(
        record=None if record is None else RecordView.of(record),
        rows=rows_of(rows),
        raw_rows=rows,
        gtt=GradientsView.of(
            _read(problems, "gradients_through_time.json", store.gradients_through_time, run_id)
        ),
        pred=_read(problems, "predictions.parquet", store.predictions, run_id),
        summary=SummaryView.of(_read(problems, "summary.json", store.summary, run_id)),
        complete=bool(_read(problems, "checksums", store.is_complete, run_id)),
        has_model=store.model_path(run_id).exists(),
        problems=problems,
    )


@st.cache_resource(max_entries=8, show_spinner=False)
def run_figures(root: str, run_id: str, stamp: float, cell: str) -> dict[str, Any]:
    """Every figure of one run, built once per (run, newest mtime) and shared, not copied, by
    every session: a rerun (a tab switch, a second visitor) only sends them."""
    data = load_run(root, run_id, stamp)
    rows, gtt, pred, color = data.raw_rows, data.gtt, data.pred, cell_color(cell)
    best = data.summary.best_epoch
    last = {f"epoch {gtt.epochs[-1]}": (gtt.norms[-1], cell)} if gtt.norms and gtt.epochs else {}
    mark = plots_compare.mark_epoch
    return {
        "pred": None if pred is None else plots.predictions_chart(pred, color=color),
        "loss": mark(plots.loss_chart(rows, color=color), best),
        "grad_norm": mark(plots.grad_norm_chart(rows), best),
        "gtt_heatmap": mark(plots.gtt_heatmap(gtt.raw), best, axis="y"),
        "gtt_last": plots.gtt_lines(last, title="Gradient through time, last epoch"),
        "gtt_kept": _kept_figure(data.kept_norms, data.kept_label, cell),
        "spectral": mark(plots.spectral_chart(rows), best),
        "residuals": None if pred is None else plots.residual_hist(pred, color=color),
        "errors": None if pred is None else plots.errors_chart(pred, color=color),
    }


def prepare(root: str, run_id: str) -> tuple[RunFiles, dict[str, Any]]:
    """A run's files and figures, through the caches (keyed by its newest mtime). Results
    renders them; the Train page calls this after its own final view is on screen, so the
    Results page opened next only sends and draws them."""
    stamp = newest_mtime(RunStore(root).run_dir(run_id))
    files = load_run(root, run_id, stamp)
    return files, run_figures(root, run_id, stamp, files.cell)


def _kept_figure(kept: list | None, label: str, cell: str) -> Any:
    if not kept:
        return None
    return plots.gtt_lines({label: (kept, cell)}, title=f"Gradient through time, {label}")
