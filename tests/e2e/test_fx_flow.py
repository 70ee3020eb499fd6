"""Issue 10's "done when": a customer opens a USD wallet, sees rates and their age, converts ₦
to $ at a quoted rate, and the wallets agree with the quote to the kobo and the cent."""

from __future__ import annotations

from typing import Any

from flask import Flask
from playwright.sync_api import expect

from tests.e2e.test_browser_flows import confirm_with_pin, register_in_browser


def test_convert_naira_to_dollars_at_the_quoted_rate(app: Flask, visit: Any) -> None:
    from lumipay.fx.service import update_rates

    page = visit.page
    register_in_browser(visit, "Ada Obi")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Open wallet").click()
    expect(page.get_by_test_id("balance-USD")).to_have_text("$0.00")
    with app.app_context():
        update_rates()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Exchange").click()
    expect(page.get_by_role("heading", name="Exchange rates")).to_be_visible()
    expect(page.locator("#fx-updated")).to_contain_text("Updated")
    expect(page.locator("table.rates")).to_contain_text("USD/NGN")
    visit.check("fx-rates")

    page.get_by_role("link", name="Convert between your wallets").click()
    expect(page.get_by_role("heading", name="Convert currency")).to_be_visible()
    page.get_by_label("To wallet", exact=True).select_option(label="USD wallet · $0.00 available")
    page.get_by_label("Amount", exact=True).fill("15,000")
    visit.check("fx-convert")
    page.get_by_role("button", name="Get a quote").click()
    expect(page.get_by_role("heading", name="Your quote")).to_be_visible()
    visit.check("fx-quote")
    debit = page.locator("#quote-debit").inner_text()
    credit = page.locator("#quote-credit").inner_text()
    assert debit == "₦15,000.00"

    confirm_with_pin(visit, "Convert")
    expect(page.locator(".flashes")).to_contain_text("Converted.")
    visit.check("fx-receipt")
    visit.goto("/dashboard")
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦85,000.00")
    expect(page.get_by_test_id("balance-USD")).to_have_text(credit)
