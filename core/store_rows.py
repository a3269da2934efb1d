"""Reading runs defensively: the shape every run file must have, and one listing row per run.

Any file of a run may be hand-edited, half-copied or replaced (valid JSON of the wrong shape,
a folder where a file belongs, no read permission). These functions turn what is on disk
into the shapes the pages, the sidebar and the CLI rely on, dropping what does not fit, so
one bad folder shows as `damaged` with its reason and never takes a page or a listing down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from core.config import RunSpec
from core.errors import UserError
from core.records import ACTIVE, FINISHED, ListingRow, MetricsRow, Status, Summary

if TYPE_CHECKING:
    from core.runs import RunStore

UNREADABLE_STATUS = "damaged: status.json is missing or unreadable"
# Columns of list_runs(); every row has all of them (None where unknown).
ROW_KEYS: tuple[str, ...] = (
    "run_id",
    "ticker",
    "source",
    "cell",
    "layers",
    "units",
    "lookback",
    "epochs",
)
ROW_KEYS += ("seed", "lr", "state", "error", "rmse", "skill", "created", "duration")
ROW_KEYS += ("size_bytes", "damaged", "owner", "skill_p")  # skill_p: DM p-value vs naive
ROW_KEYS += ("memory_horizon",)  # steps, of the kept weights (core/gates.py)
# Known fields and their types; anything of another type is dropped (or set to None).
_STATUS_INTS: tuple[str, ...] = ("epoch", "epochs", "pid")
_STATUS_NUMS = ("pid_created", "queued_at", "started_ts")
_STATUS_TEXT = ("error", "started", "finished", "device", "updated", "owner")
_ROW_NUMS = ("loss", "val_loss", "seconds", "lr", "clipped_fraction")
_SCALAR_METRICS: tuple[str, ...] = (
    "rmse",
    "mae",
    "mape",
    "naive_rmse",
    "naive_mae",
    "naive_mape",
    "skill",
)
_SCALAR_METRICS += ("return_rmse", "naive_return_rmse", "return_skill", "n")
_SCALAR_METRICS += ("directional_accuracy",)
_SUMMARY_NUMS = ("params", "train_seconds", "samples_per_second", "best_epoch", "epochs_run")


def num(v: Any) -> int | float | None:
    """v if it is a real number (not a bool), else None."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _num_map(v: Any) -> dict[str, Any]:
    return {str(k): num(x) for k, x in v.items()} if isinstance(v, dict) else {}


def _nested_num_map(v: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(v, dict):
        return {}
    return {str(k): _num_map(x) for k, x in v.items() if isinstance(x, dict)}


def clean_status(raw: Any) -> Status:
    """status.json as a dict with a string state and well-typed known fields."""
    if not isinstance(raw, dict) or not isinstance(raw.get("state"), str):
        return {"state": "failed", "error": UNREADABLE_STATUS}
    st: dict[str, Any] = dict(raw)
    wrong: list[str] = []
    for key in _STATUS_INTS + _STATUS_NUMS + _STATUS_TEXT:
        value = st.get(key)
        if key in _STATUS_TEXT:
            ok = value is None or isinstance(value, str)
        else:
            ok = value is None or (num(value) is not None and value >= 0)
            ok = ok and (key not in _STATUS_INTS or value is None or isinstance(value, int))
        if not ok:
            st[key] = None
            wrong.append(key)
    if wrong:
        st["error"] = f"damaged: status.json has {', '.join(wrong)} of the wrong type"
    if st["state"] not in ACTIVE + FINISHED:
        st = {**st, "state": "failed", "error": f"damaged: unknown state {st['state'][:40]!r}"}
    return cast(Status, st)  # the known fields now have their types (core/records.py)


def clean_metric_row(row: Any) -> MetricsRow | None:
    """One metrics.jsonl row with an integer epoch and well-typed known fields, else None."""
    if not isinstance(row, dict) or not isinstance(num(row.get("epoch")), int):
        return None
    out = dict(row)
    for key in _ROW_NUMS:
        if key in out:
            out[key] = num(out[key])
    for key in ("grad_norm", "spectral_radius_blocks"):
        if key in out:
            out[key] = _nested_num_map(out[key])
    if "spectral_radius" in out:
        out["spectral_radius"] = _num_map(out["spectral_radius"])
    return cast(MetricsRow, out)


def clean_gtt(obj: Any) -> dict[str, Any] | None:
    """gradients_through_time.json when lags, epochs and the norms matrix agree, else None."""
    if not isinstance(obj, dict):
        return None
    lags, norms = obj.get("lags"), obj.get("norms")
    if not isinstance(lags, list) or not isinstance(norms, list):
        return None
    epochs = obj.get("epochs", list(range(len(norms))))
    if not isinstance(epochs, list) or len(epochs) != len(norms):
        return None
    if not all(isinstance(num(x), int) for x in [*lags, *epochs]):
        return None
    for line in norms:
        if not isinstance(line, list) or len(line) != len(lags):
            return None
        if any(v is not None and num(v) is None for v in line):
            return None
    return obj


def clean_summary(obj: Any) -> Summary | None:
    """summary.json with a metrics dict of numbers (where numbers belong), else None."""
    if not isinstance(obj, dict):
        return None
    out = dict(obj)
    raw = out.get("metrics")
    metrics: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
    for key in _SCALAR_METRICS:
        if key in metrics:
            metrics[key] = num(metrics[key])
    if "lag_check" in metrics:
        metrics["lag_check"] = _num_map(metrics["lag_check"])
    out["metrics"] = metrics
    for key in _SUMMARY_NUMS:
        if key in out:
            out[key] = num(out[key])
    if not isinstance(out.get("checksums"), dict):
        out["checksums"] = {}
    return cast(Summary, out)


def spec_of(record: Any, run_id: str) -> RunSpec:
    """The RunSpec in a spec.json record; a damaged one is a UserError that says what to do."""
    try:
        return RunSpec.from_dict(record["spec"])
    except Exception:  # any wrong shape: a list, a number, a missing section, a bad setting
        raise UserError(
            f"run {run_id} is damaged (spec.json is unreadable): delete it and train it again"
        ) from None


def row(store: RunStore, rid: str) -> ListingRow:
    """One list_runs() row; anything wrong in this folder flags it damaged, with the reason."""
    out: dict[str, Any] = dict.fromkeys(ROW_KEYS)
    out.update(run_id=rid, damaged=False, size_bytes=_size(store, rid))
    reasons = []
    try:
        record = store.read_json(rid, "spec.json")
        spec = spec_of(record, rid)
        created = record.get("created")
        out.update(_spec_columns(spec), created=created if isinstance(created, str) else None)
        out["owner"] = record.get("owner") if isinstance(record.get("owner"), str) else None
    except (ValueError, AttributeError):  # UserError is a ValueError
        reasons.append("spec.json is unreadable")
    st = store.status(rid)
    out["state"], out["error"] = st.get("state"), st.get("error")
    if out["state"] == "done":
        summary = store.summary(rid)
        if summary is None or not store.is_complete(rid, memo=True):
            reasons.append("an artifact is missing or does not match its checksum")
        else:
            out.update(_summary_columns(summary))
    if str(out["error"]).startswith("damaged"):
        reasons.append(str(out["error"]).removeprefix("damaged: "))
    if reasons:
        out["damaged"] = True
        out["error"] = "damaged: " + "; ".join(dict.fromkeys(reasons))
    return cast(ListingRow, out)  # every ROW_KEYS key is set


def _size(store: RunStore, rid: str) -> int:
    from core.store_gc import dir_size

    return dir_size(store.root / rid)


def _spec_columns(spec: RunSpec) -> dict[str, Any]:
    return {
        "ticker": spec.data.ticker,
        "source": spec.data.source,
        "cell": spec.model.cell,
        "layers": spec.model.layers,
        "units": spec.model.units,
        "lookback": spec.data.lookback,
        "epochs": spec.train.epochs,
        "seed": spec.train.seed,
        "lr": spec.train.learning_rate,
    }


def _summary_columns(summary: Mapping[str, Any]) -> dict[str, Any]:
    metrics = summary.get("metrics") or {}
    dm = metrics.get("dm_vs_naive")
    return {
        "rmse": metrics.get("rmse"),
        "skill": metrics.get("skill"),
        "skill_p": num(dm.get("p_value")) if isinstance(dm, dict) else None,
        "duration": summary.get("train_seconds"),
        "memory_horizon": h if isinstance(h := summary.get("memory_horizon"), int) else None,
    }
