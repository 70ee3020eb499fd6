"""Chart geometry: integer amounts in, pixel coordinates out, scaled to the busiest day."""

from __future__ import annotations

from datetime import date, timedelta

from lumipay.accounts.categories import CATEGORIES, category_of, kind_label
from lumipay.accounts.charts import FLOW_AXIS, FLOW_HEIGHT, category_chart, flow_chart
from lumipay.accounts.insights import DayFlow, MoneyPicture, Spending

TODAY = date(2026, 11, 26)


def picture(flows: dict[int, tuple[int, int]], spending=()) -> MoneyPicture:  # type: ignore[no-untyped-def]
    start = TODAY - timedelta(days=29)
    days = [DayFlow(start + timedelta(days=n), *flows.get(n, (0, 0))) for n in range(30)]
    return MoneyPicture(
        "NGN",
        start,
        TODAY,
        days,
        sum(d.money_in for d in days),
        sum(d.money_out for d in days),
        list(spending),
    )


def test_bars_scale_to_the_busiest_day_and_name_their_amounts():
    chart = flow_chart(picture({29: (10_000_000, 250_000), 3: (0, 5_000_000)}))
    plot = FLOW_HEIGHT - FLOW_AXIS
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.height == plot and tallest.y == 0 and tallest.css == "bar-in"
    half = next(b for b in chart.bars if b.title.startswith("31 Oct"))
    assert half.height == plot / 2 and half.css == "bar-out"
    assert half.title == "31 Oct: ₦50,000.00 out"
    assert len(chart.bars) == 3 and chart.has_data
    # A label a week, the newest day always among them.
    assert chart.labels[-1].text == "26 Nov" and len(chart.labels) == 5
    for bar in chart.bars:
        assert bar.y >= 0 and bar.y + bar.height <= plot + 0.01


def test_an_empty_month_draws_no_bars():
    chart = flow_chart(picture({}))
    assert chart.bars == [] and not chart.has_data


def test_category_bars_longest_first_with_formatted_amounts():
    spending = [
        Spending(CATEGORIES["transfers"], 400_000),
        Spending(CATEGORIES["airtime"], 100_000),
    ]
    chart = category_chart(picture({}, spending))
    widths = [row.bar.width for row in chart.rows]
    assert widths[0] == 4 * widths[1]
    assert [row.value.text for row in chart.rows] == ["₦4,000.00", "₦1,000.00"]
    assert chart.rows[1].bar.css == "bar-cat bar-cat-airtime"


def test_new_kinds_slot_into_categories_by_name():
    assert category_of("transfer").key == "transfers"
    assert category_of("electricity").key == "electricity"
    assert category_of("card_refund").key == "card"
    assert category_of("stamp_duty_fee").key == "fees"
    assert category_of("fx_conversion").key == "fx"
    assert kind_label("fx_conversion") == "Currency conversion"
    assert category_of("loan_disbursement").key == "other"
    assert kind_label("loan_disbursement") == "Loan disbursement"
    assert kind_label("welcome_bonus") == "Welcome bonus"
