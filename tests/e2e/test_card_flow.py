"""Issue 9 in a real browser, as `make dev` runs it (jobs in-process): a single-use card pays
the sandbox test merchant, the money is held, "Clear" captures it and the card is terminated;
a multi-use card declines a purchase above its limit and says why."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.test_bill_flow import balances_in_new_tab
from tests.e2e.test_browser_flows import confirm_with_pin, register_in_browser


@pytest.fixture(autouse=True)
def embedded(app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.config, "CARDS_PROVIDER", "sandbox")


def create_card(visit: Any, label: str, *, single_use: bool, limit: str | None = None) -> None:
    page = visit.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cards").click()
    expect(page.get_by_role("heading", name="Virtual cards")).to_be_visible()
    page.get_by_role("link", name="New card").click()
    page.get_by_label("Card name").fill(label)
    if single_use:
        page.get_by_label("Single-use: terminated after its first purchase settles").check()
    if limit:
        page.get_by_label("Limit per purchase").fill(limit)
    visit.check("new-card")
    confirm_with_pin(visit, "Create card")  # a new card can spend the wallet: the PIN asks
    expect(page.get_by_role("heading", name=label)).to_be_visible()
    expect(page.get_by_test_id("card-status")).to_have_text("Active")


def pay_merchant(visit: Any, card_label: str, amount: str) -> None:
    page = visit.page
    visit.goto("/cards/sandbox/merchant")
    expect(page.get_by_role("heading", name="Test merchant (sandbox)")).to_be_visible()
    option = page.locator("#card option", has_text=card_label).first.get_attribute("value")
    page.get_by_label("Pay with").select_option(option)
    page.get_by_label("Merchant", exact=True).fill("Konga Online")
    page.get_by_label("Amount", exact=True).fill(amount)
    page.get_by_role("button", name="Pay", exact=True).click()


def test_single_use_card_pays_is_held_then_captured_and_terminated(visit):
    page = visit.page
    register_in_browser(visit, "Ada Obi")
    create_card(visit, "One-off", single_use=True)
    visit.check("card-active")

    pay_merchant(visit, "One-off", "2,500")
    expect(page.locator("#authorisation-result")).to_contain_text("Approved.")
    visit.check("merchant-approved")
    assert balances_in_new_tab(visit) == ("₦100,000.00", "₦97,500.00")

    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_role("heading", name="One-off")).to_be_visible()
    expect(page.get_by_test_id("card-status")).to_have_text("Terminated")
    expect(page.locator("#card-transactions")).to_contain_text("Konga Online")
    expect(page.locator("#card-transactions")).to_contain_text("Paid")
    visit.check("card-terminated")
    assert balances_in_new_tab(visit) == ("₦97,500.00", "₦97,500.00")


def test_multi_use_card_declines_above_its_limit_with_the_reason(visit):
    page = visit.page
    register_in_browser(visit, "Bayo Adeyemi")
    create_card(visit, "Everyday", single_use=False, limit="1,000")
    pay_merchant(visit, "Everyday", "1,500")
    result = page.locator("#authorisation-result")
    expect(result).to_contain_text("Declined:")
    expect(result).to_contain_text("above this card's limit per purchase")
    expect(page.get_by_role("button", name="Clear")).to_have_count(0)
    visit.check("merchant-declined")
    assert balances_in_new_tab(visit) == ("₦100,000.00", "₦100,000.00")
