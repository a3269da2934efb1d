"""The one guard for strict JSON: non-finite numbers become None. Light (no numpy import),
so the CLI's cache-hit path can use it without loading the science stack."""

from __future__ import annotations

import math
from numbers import Integral, Real


def finite(value: float | None) -> float | None:
    """value as a float, or None for None, NaN and ±inf (an undefined number)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def json_safe(obj: object) -> object:
    """obj with every non-finite float (at any depth) replaced by None, for allow_nan=False;
    numpy floats count as floats, ints and bools pass unchanged."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, Real) and not isinstance(obj, Integral):
        return finite(float(obj))
    return obj
