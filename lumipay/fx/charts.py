"""The /fx chart: each currency's rate over the last days, as server-rendered SVG polylines.

Every line is scaled to its own range (a naira line and a pound line share no axis), so the
chart shows movement, and the table beside it shows the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

WIDTH, HEIGHT, PAD = 320, 120, 8


@dataclass(frozen=True)
class Line:
    currency: str
    points: str  # SVG polyline points, "x,y x,y …"
    first: Decimal
    last: Decimal


def rate_chart(history: dict[str, list[tuple[datetime, Decimal]]]) -> list[Line]:
    """One line per non-USD currency with at least two rates."""
    lines = []
    for code in ("NGN", "EUR", "GBP"):
        series = history.get(code, [])
        if len(series) < 2:
            continue
        t0, t1 = series[0][0], series[-1][0]
        low = min(rate for _, rate in series)
        high = max(rate for _, rate in series)
        span_t = (t1 - t0).total_seconds() or 1
        span_r = (high - low) or Decimal(1)
        points = []
        for at, rate in series:
            x = PAD + (WIDTH - 2 * PAD) * (at - t0).total_seconds() / span_t
            y = PAD + (HEIGHT - 2 * PAD) * (high - rate) / span_r
            points.append(f"{x:.1f},{float(y):.1f}")
        lines.append(Line(code, " ".join(points), series[0][1], series[-1][1]))
    return lines
