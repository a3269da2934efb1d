"""What a run shows, in words built from its own numbers (Results, Compare, the CLI).

No sentence here is a claim about cells in general: each states a number this run recorded
(gradients through time of the kept weights, the memory horizon, the per-step factor, the
gate means at the start and at the end) and what that number means. The same cell says
opposite things on different data, and so do these words. Definitions: core/gates.py.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from core import fmt
from core.cells import CELL_NAMES
from core.fmt import sci

if TYPE_CHECKING:  # annotations only: no runtime dependency
    from typing_extensions import TypeIs

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
NEAR = 0.03  # a gate mean within this of its start "stays near" it


def power_of_ten(x: float) -> str:
    """0.00012 -> '10⁻⁴'; 3.2e7 -> '10⁷' (rounded exponent)."""
    return "10" + str(round(math.log10(x))).translate(_SUPERSCRIPT)


def _num(x: Any) -> TypeIs[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def horizon_card(summary: dict) -> tuple[str, str]:
    """(value, help) for a 'Memory horizon' metric card."""
    h = summary.get("memory_horizon")
    value = f"{h} steps" if isinstance(h, int) else "n/a"
    return value, (
        "Largest lag k whose gradient through time g_k is at least 10⁻³ of the largest g, "
        "for the weights the model keeps: inputs further back no longer move the loss."
    )


def gradient_sentence(norms: list, k: int, unit: str) -> str | None:
    """'The gradient 40 steps back is 10⁻¹⁵ of the last step's ...' from g_0..g_{T-1}."""
    if not norms or len(norms) <= k or not _num(norms[0]) or norms[0] <= 0:
        return None
    g = norms[k]
    if g is None:
        return None
    if g == 0:
        return (
            f"The gradient {k} {unit} back is exactly 0 in float32 (it underflowed): the "
            f"input {k} {unit} back does not move the loss at all."
        )
    ratio = g / norms[0]
    if ratio >= 0.1:
        return (
            f"The gradient {k} {unit} back is {sci(ratio)} times the last step's: over this "
            "distance it has not vanished."
        )
    return (
        f"The gradient {k} {unit} back is {power_of_ten(ratio)} of the last step's ({sci(ratio)})."
    )


def horizon_sentence(cell: str, horizon: Any, T: int, unit: str) -> str | None:
    if not isinstance(horizon, int):
        return None
    name = CELL_NAMES.get(cell, cell)
    if horizon >= T - 1:
        return (
            f"Memory horizon {horizon} {unit}: every one of the {T} input steps still moves "
            f"the loss by at least 10⁻³ of the strongest, so this {name} can learn from its "
            "whole window."
        )
    return (
        f"Memory horizon {horizon} {unit}: inputs more than ~{horizon} {unit} old move the "
        f"loss by less than 10⁻³ of the strongest, so this {name} cannot learn from them."
    )


def factor_sentence(layer: str, factor: Any, T: int) -> str | None:
    if not _num(factor):
        return None
    span = factor ** (T - 1) if factor > 0 else 0.0
    over = (
        f"≈ {power_of_ten(span)}" if span > 0 and (span < 0.01 or span > 100) else f"≈ {span:.2g}"
    )
    verb = "keeps" if factor <= 1 else "multiplies"
    return (
        f"Per step back, {layer}'s state gradient {verb} ~{factor:.2f} of itself (the step "
        f"factor), so over the {T - 1} steps of the window it is scaled by {factor:.2f}^{T - 1} "
        f"{over}."
    )


_START = {  # the gate means a fresh model starts near, and why
    ("lstm", "forget"): "σ(1) ≈ 0.73, the forget-bias start",
    ("gru", "update"): "σ(0) = 0.50 with zero biases",
}


def gate_sentence(cell: str, layer: str, kept: dict, initial: dict | None) -> str | None:
    """Memory gate (LSTM forget, GRU update) or tanh slope, compared with its start."""
    key = {"lstm": "forget", "gru": "update", "rnn": "tanh_slope"}.get(cell)
    value = (kept or {}).get(key)
    if key is None or not _num(value):
        return None
    start = (initial or {}).get(key)
    if cell == "rnn":
        sat = kept.get("saturated")
        text = f"{layer}'s mean tanh slope 1 − h² is {value:.2f}"
        if _num(sat):
            text += f", and {sat:.0%} of its units are saturated (|h| > 0.95, slope < 0.1)"
        return text + "."
    gate = "forget gate" if cell == "lstm" else "update gate"
    held = kept.get("holding")
    text = f"{layer}'s {gate} averages {value:.2f}"
    if _num(start) and abs(value - start) < NEAR:
        text += f", near its starting value {start:.2f}: training left its mean where it began"
    elif _num(start):
        text += f", moved from {start:.2f} at the start"
    if _num(held):
        text += f"; {held:.0%} of its values exceed 0.95 (units that hold their state)"
    return text + "."


def skill_sentence(metrics: dict, task: bool) -> str | None:
    skill = (metrics or {}).get("skill")
    if not _num(skill) or not task:
        return None
    if skill <= 0.05:
        return (
            f"Test skill {skill:+.3f}: no better than predicting the training mean, so it has "
            "not learned to recall the marked value."
        )
    return (
        f"Test skill {skill:+.3f}: it removes {skill:.0%} of the squared error of predicting "
        "the training mean."
    )


def run_sentences(spec: dict, summary: dict, gtt: dict | None) -> list[str]:
    """Everything the run's numbers say, in order: gradient, horizon, factor, gates, skill."""
    data, model = spec.get("data") or {}, spec.get("model") or {}
    cell, task = model.get("cell", "lstm"), data.get("source") == "task"
    T = int(data.get("lookback") or 0)
    unit = "steps" if task else "days"
    kept = (gtt or {}).get("kept") or {}
    norms = kept.get("norms") or ((gtt or {}).get("norms") or [[]])[-1]
    k = int(data.get("lag", T - 1)) if task else T - 1
    out = [gradient_sentence(norms, k, unit) if T else None]
    out.append(horizon_sentence(cell, summary.get("memory_horizon"), T, unit))
    gates, initial = summary.get("kept_gates") or {}, summary.get("initial_gates") or {}
    for layer, g in gates.items():
        out.append(factor_sentence(layer, g.get("step_factor"), T))
        out.append(gate_sentence(cell, layer, g, initial.get(layer)))
    out.append(skill_sentence(summary.get("metrics") or {}, task))
    out.append(None if task else _nothing_kept(cell, summary, gates, initial))
    return [s for s in out if s]


def _nothing_kept(cell: str, summary: dict, gates: dict, initial: dict) -> str | None:
    """Prices: gates that never left their start beside a forecast no better than naive."""
    key = {"lstm": "forget", "gru": "update"}.get(cell)
    metrics = summary.get("metrics") or {}
    verdict, skill = metrics.get("verdict_vs_naive"), metrics.get("skill")
    if key is None or not gates or not (_num(skill) and isinstance(verdict, str)):
        return None
    pairs = [(g.get(key), (initial.get(layer) or {}).get(key)) for layer, g in gates.items()]
    if not all(_num(a) and _num(b) and abs(a - b) < NEAR for a, b in pairs):
        return None
    if skill > 0 and not verdict.startswith("not distinguishable"):
        return None
    return (
        f"Its {key} gates stayed where they started and the forecast is {verdict}: on this "
        "data, training found nothing in the past worth keeping."
    )


def _ms(d: dict | None, pattern: str) -> str | None:
    return fmt.mean_std(d, pattern, missing="") or None


def preset_sentence(cell: str, c: dict, lag: int) -> str:
    """One line of the memory preset per cell, from core.memory_preset.report."""
    name = CELL_NAMES.get(cell, cell)
    head = f"**{name}** (learning rate {c['learning_rate']:g}, {c['done']} of {c['seeds']} seeds)"
    parts = []
    skill = _ms(c.get("skill"), "{:+.2f}")
    if skill:
        learned = c["skill"]["mean"] > 0.5
        parts.append(
            f"test skill {skill}: it {'recalls' if learned else 'does not recall'} the value "
            f"{lag} steps back"
        )
    horizon = _ms(c.get("memory_horizon"), "{:.0f}")
    if horizon:
        reach = "reaches" if c["memory_horizon"]["mean"] >= lag else "falls short of"
        parts.append(f"memory horizon {horizon} steps, which {reach} the lag {lag}")
    ratio = (c.get("log10_gradient_ratio") or {}).get("mean")
    if _num(ratio):
        size = 10.0**ratio
        scale = f"{sci(size)} times" if size >= 0.1 else f"{power_of_ten(size)} of"
        parts.append(
            f"its gradient {lag} steps back is {scale} the last step's (geometric mean over seeds)"
        )
    factor = _ms(c.get("step_factor"), "{:.2f}")
    if factor:
        parts.append(f"step factor {factor}")
    return head + (": " + "; ".join(parts) + "." if parts else ": no finished run yet.")


def horizon_summary(cell: str, horizons: list[int]) -> str:
    """'GRU 12.3 ± 1.5 steps (3 runs)'."""
    n = len(horizons)
    mean = sum(horizons) / n
    std = (sum((h - mean) ** 2 for h in horizons) / (n - 1)) ** 0.5 if n > 1 else 0.0
    return f"{CELL_NAMES.get(cell, cell)} {mean:.1f} ± {std:.1f} ({n} run{'s' if n > 1 else ''})"
