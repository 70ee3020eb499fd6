"""Geometry for the dashboard's server-rendered SVG charts.

Amounts stay integer minor units; only pixel coordinates are floats. The templates draw what
these functions return, styled by classes from static/css/app.css (the CSP allows no inline
styles), so the charts read the same with JavaScript off.
"""

from __future__ import annotations

from dataclasses import dataclass

from lumipay.accounts.insights import MoneyPicture
from lumipay.money import format_amount

FLOW_WIDTH = 320
FLOW_HEIGHT = 170
FLOW_AXIS = 22
"""Room under the bars for the day labels."""

CATEGORY_ROW = 32
CATEGORY_WIDTH = 320
CATEGORY_LABEL = 86
CATEGORY_VALUE = 96
"""Room to the right of the longest bar for its amount."""


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class FlowChart:
    width: int
    height: int
    bars: list[Bar]
    labels: list[Label]
    baseline: float
    has_data: bool


def _px(value: float) -> float:
    return round(value, 2)


def flow_chart(picture: MoneyPicture) -> FlowChart:
    """Two bars a day (in, out) scaled to the busiest day of the window."""
    peak = max([max(d.money_in, d.money_out) for d in picture.days] + [0])
    plot = FLOW_HEIGHT - FLOW_AXIS
    slot = FLOW_WIDTH / max(len(picture.days), 1)
    bar = slot * 0.38
    bars: list[Bar] = []
    labels: list[Label] = []
    for n, day in enumerate(picture.days):
        left = n * slot + slot * 0.1
        when = day.day.strftime("%d %b")
        for offset, amount, css, word in (
            (0.0, day.money_in, "bar-in", "in"),
            (bar, day.money_out, "bar-out", "out"),
        ):
            if not amount or not peak:
                continue
            height = max(plot * amount / peak, 1.5)
            bars.append(
                Bar(
                    x=_px(left + offset),
                    y=_px(plot - height),
                    width=_px(bar),
                    height=_px(height),
                    css=css,
                    title=f"{when}: {format_amount(amount, picture.currency)} {word}",
                )
            )
        # A label a week, counted back from today so the newest day is always named.
        if (len(picture.days) - 1 - n) % 7 == 0:
            labels.append(Label(x=_px(n * slot + slot / 2), y=FLOW_HEIGHT - 6, text=when))
    return FlowChart(FLOW_WIDTH, FLOW_HEIGHT, bars, labels, float(plot), bool(peak))


@dataclass(frozen=True)
class CategoryRow:
    label: Label
    bar: Bar
    value: Label


@dataclass(frozen=True)
class CategoryChart:
    width: int
    height: int
    rows: list[CategoryRow]


def category_chart(picture: MoneyPicture) -> CategoryChart:
    """One horizontal bar per category with spending, longest first, amount at its end."""
    peak = max([s.amount for s in picture.spending] + [0])
    track = CATEGORY_WIDTH - CATEGORY_LABEL - CATEGORY_VALUE
    rows = []
    for n, spent in enumerate(picture.spending):
        top = n * CATEGORY_ROW + 6
        width = max(track * spent.amount / peak, 2) if peak else 0
        amount = format_amount(spent.amount, picture.currency)
        rows.append(
            CategoryRow(
                label=Label(x=0, y=top + 16, text=spent.category.label, anchor="start"),
                bar=Bar(
                    x=CATEGORY_LABEL,
                    y=top,
                    width=_px(width),
                    height=22,
                    css=f"bar-cat bar-cat-{spent.category.key}",
                    title=f"{spent.category.label}: {amount}",
                ),
                value=Label(
                    x=_px(CATEGORY_LABEL + width + 8), y=top + 16, text=amount, anchor="start"
                ),
            )
        )
    return CategoryChart(CATEGORY_WIDTH, max(len(rows), 1) * CATEGORY_ROW + 6, rows)
