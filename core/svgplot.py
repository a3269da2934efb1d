"""price_svg: one price series as a static SVG line chart, for the first page.

numpy only (no plotly, no pandas): the Home page draws it on a newcomer's first script run,
and the browser shows it as an image without loading plotly.js.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np

from core.cells import CELL_COLORS, NEUTRAL

# price_svg's canvas in px; st.image(width="stretch") scales it to the column (viewBox).
SVG_W, SVG_H = 1000, 260
SVG_PAD = (64, 12, 16, 28)  # left (price labels), right, top, bottom (year labels)


def nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """At most about n+1 round values (1, 2 or 5 x 10^k steps) covering [lo, hi]."""
    span = max(hi - lo, 1e-12)
    raw = span / n
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)


def price_svg(dates: Any, values: Any, label: str) -> str:
    """A static line chart of one price series as an SVG document: no plotly.js, so the
    first page draws at once. Text and grid are NEUTRAL grey, legible on light and dark
    backgrounds alike; ``label`` is its title. ValueError on fewer than two finite prices."""
    x = _day_numbers(dates)
    y = np.asarray(values, dtype=float)
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(y) < 2:
        raise ValueError("price_svg needs at least two finite prices")
    left, right, top, bottom = SVG_PAD
    yt = nice_ticks(float(y.min()), float(y.max()))
    y0, y1 = min(yt[0], y.min()), max(yt[-1], y.max())
    sx = (SVG_W - left - right) / max(x[-1] - x[0], 1.0)
    sy = (SVG_H - top - bottom) / max(y1 - y0, 1e-12)

    def px(v: Any) -> Any:  # an array of days or one day
        return left + (v - x[0]) * sx

    def py(v: Any) -> Any:
        return SVG_H - bottom - (v - y0) * sy

    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(x), py(y), strict=True))
    parts = [_svg_open(label)]
    parts += [_svg_hline(float(py(v)), f"{v:,.0f}", left) for v in yt]
    parts += [_svg_year(float(px(d)), year) for d, year in _year_ticks(x)]
    parts.append(
        f'<polyline fill="none" stroke="{CELL_COLORS["lstm"]}" stroke-width="1.5" '
        f'vector-effect="non-scaling-stroke" points="{points}"/></svg>'
    )
    return "".join(parts)


def _day_numbers(dates: Any) -> np.ndarray:
    """Days since 1970-01-01 as floats, from datetime64 values, datetimes or ISO date strings."""
    days = np.asarray(dates)
    if days.dtype.kind != "M":  # strings or datetime objects: numpy parses both
        days = days.astype("datetime64[ns]")
    return days.astype("datetime64[D]").astype(np.int64).astype(float)


def _svg_open(label: str) -> str:
    text = escape(label)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SVG_W} {SVG_H}" '
        f'width="{SVG_W}" height="{SVG_H}" font-family="sans-serif" font-size="13">'
        f"<title>{text}</title>"
    )


def _svg_hline(y: float, text: str, left: int) -> str:
    return (
        f'<line x1="{left}" x2="{SVG_W - SVG_PAD[1]}" y1="{y:.1f}" y2="{y:.1f}" '
        f'stroke="{NEUTRAL}" stroke-opacity="0.3"/>'
        f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{NEUTRAL}" '
        f'fill-opacity="0.9">{text}</text>'
    )


def _svg_year(x: float, year: int) -> str:
    return (
        f'<text x="{x:.1f}" y="{SVG_H - 8}" text-anchor="middle" fill="{NEUTRAL}" '
        f'fill-opacity="0.9">{year}</text>'
    )


def _year_ticks(x_days: np.ndarray, most: int = 10) -> list[tuple[float, int]]:
    """(day number, year) of 1 January every k years inside the span, at most ``most``."""
    first = int(np.datetime64(int(x_days[0]), "D").astype("datetime64[Y]").astype(int)) + 1971
    last = int(np.datetime64(int(x_days[-1]), "D").astype("datetime64[Y]").astype(int)) + 1970
    years = list(range(first, last + 1))
    step = next((k for k in (1, 2, 5, 10, 20, 50) if len(years) / k <= most), 100)
    return [
        (float(np.datetime64(f"{yr}-01-01", "D").astype(np.int64)), yr)
        for yr in years
        if yr % step == 0
    ]
