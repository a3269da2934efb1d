"""Numbers as text, once, for the pages, the CLI and the sentences about a run.

A missing or non-numeric value never raises: it prints as MISSING. Plain Python (no pandas):
the first page imports it.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "–"


def is_number(value: Any) -> bool:
    """A real, finite int or float (True/False are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def num(value: Any, pattern: str = "{:.4g}", missing: str = MISSING) -> str:
    """pattern.format(value) for a number, else `missing`: num(0.1234, "{:.1%}") -> '12.3%'."""
    return pattern.format(value) if is_number(value) else missing


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def sci(value: Any, digits: int = 2, missing: str = MISSING) -> str:
    """A number as a reader writes it: 0.25 -> '0.25', 8.6e-12 -> '8.6×10⁻¹²' (never '8.6e-12',
    which the app's charts and sentences do not use)."""
    if not is_number(value):
        return missing
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.{digits}g}"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa  # 2.0 -> 2
    power = "10" + str(int(exponent)).translate(_SUPERSCRIPT)
    return power if mantissa in ("1", "-1") else f"{mantissa}×{power}"


def plain(value: Any) -> str:
    """A table cell of the CLI: floats to 6 significant digits, None as '-', the rest as is."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)


def mean_std(
    stat: dict | None, pattern: str, std_pattern: str | None = None, missing: str = MISSING
) -> str:
    """'1.23 ± 0.04' for a core.compare.mean_std result; the mean alone when it has one value
    (n < 2); `missing` when there is no mean. The std is never signed."""
    stat = stat or {}
    if not is_number(stat.get("mean")):
        return missing
    mean = pattern.format(stat["mean"])
    if (stat.get("n") or 0) < 2 or not is_number(stat.get("std")):
        return mean
    return f"{mean} ± {(std_pattern or pattern.replace('{:+', '{:')).format(stat['std'])}"
