"""A run's settings in words: the Results page's readable list (the JSON stays a download).

Plain Python: no streamlit, no pandas. Each section is a list of (label, value) pairs;
empty and not-applicable fields are left out, dates are the ones the run really used.
"""

from __future__ import annotations

from typing import Any

from core.cells import cell_name

SOURCES = {"sample": "bundled sample", "yahoo": "Yahoo Finance", "csv": "uploaded CSV"}
SOURCES["task"] = "generated memory task"
FEATURES = {"close": "daily close", "ohlc": "open/high/low ranges", "log_volume": "log volume"}
TARGETS = {"return": "next day's log return", "price": "next day's price (scaled)"}
TASK_ONLY = ("task", "lag", "n_train", "n_val", "n_test", "task_seed")


def _date_range(data: dict, period: dict | None, bounds: tuple[str, str] | None) -> str:
    """The first and last price day: the spec's own dates, else the file's (``bounds``),
    else the words 'first day' / 'last day' of the data."""
    first = data.get("start") or (bounds[0] if bounds else "the first day of the data")
    last = data.get("end") or (bounds[1] if bounds else "the last day of the data")
    return f"{first} to {last}"


def data_lines(data: dict, period: dict | None, bounds: tuple[str, str] | None) -> list:
    source = str(data.get("source"))
    lines: list[tuple[str, Any]] = [
        ("Data", f"{data.get('ticker')} ({SOURCES.get(source, source)})")
    ]
    if source == "task":
        lines += [(k.replace("_", " "), data.get(k)) for k in TASK_ONLY if k in data]
    else:
        lines.append(("Prices", _date_range(data, period, bounds)))
    if period:
        lines.append(("Forecast days", f"{period['first']} to {period['last']}"))
        lines.append(("Test split", f"{period['test_first']} to {period['test_last']}"))
    features = ", ".join(FEATURES.get(f, f) for f in data.get("features") or [])
    lines += [
        ("Inputs", features),
        ("Target", TARGETS.get(str(data.get("target")), data.get("target"))),
    ]
    lines.append(("Lookback", f"{data.get('lookback')} days"))
    val, test = data.get("val_frac"), data.get("test_frac")
    if isinstance(val, (int, float)) and isinstance(test, (int, float)):
        split = f"{1 - val - test:.0%} / {val:.0%} / {test:.0%}, in time order"
        lines.append(("Train / val / test", split))
    if data.get("csv_sha256"):
        lines.append(("File sha256", str(data["csv_sha256"])[:16] + "…"))
    return lines


def model_lines(model: dict) -> list:
    lines: list[tuple[str, Any]] = [("Cell", cell_name(str(model.get("cell"))))]
    lines.append(("Layers × units", f"{model.get('layers')} × {model.get('units')}"))
    lines.append(("Activation", model.get("activation")))
    for key, label in (("dropout", "Input dropout"), ("recurrent_dropout", "Recurrent dropout")):
        if model.get(key):
            lines.append((label, f"{model[key]:g}"))
    if model.get("cell") == "lstm":
        lines.append(
            ("Forget-gate bias 1 at start", "yes" if model.get("unit_forget_bias") else "no")
        )
    return lines


def train_lines(train: dict) -> list:
    clip = train.get("clipnorm")
    patience = train.get("patience")
    return [
        (
            "Optimizer",
            f"{str(train.get('optimizer')).capitalize()}, learning rate {train.get('learning_rate'):g}",
        ),
        (
            "Epochs",
            f"{train.get('epochs')} at most"
            + (f", stop after {patience} without progress" if patience else ""),
        ),
        ("Batch size", train.get("batch_size")),
        ("Gradient clipping", f"norm {clip:g}" if clip else "off"),
        ("Mixed precision", "on" if train.get("mixed_precision") else "off"),
        ("Seed", train.get("seed")),
    ]


def spec_sections(
    record: dict, period: dict | None = None, bounds: tuple[str, str] | None = None
) -> dict[str, list[tuple[str, Any]]]:
    """{'Data': [...], 'Model': [...], 'Training': [...]} from a spec.json record."""
    spec = record.get("spec") or {}
    return {
        "Data": data_lines(spec.get("data") or {}, period, bounds),
        "Model": model_lines(spec.get("model") or {}),
        "Training": train_lines(spec.get("train") or {}),
    }
