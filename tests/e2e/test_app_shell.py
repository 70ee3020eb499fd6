"""Issue 20's app shell in a real browser: the phone's tab bar and compact header, the balance
hide toggle, times in Lagos time (WAT), a receipt's PDF, and a card's termination behind its
confirmation. Every page shown is checked at 360 px (no sideways scroll) and by axe-core."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from lumipay.clock import lagos_label
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_browser_flows import confirm_with_pin, register_in_browser, start_transfer
from tests.e2e.test_card_flow import create_card


@pytest.fixture(autouse=True)
def embedded(app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.config, "CARDS_PROVIDER", "sandbox")


def send_to(visit: Any, number: str, amount: str) -> str:
    """A transfer through the forms; returns its reference (from the receipt's URL)."""
    page = visit.page
    start_transfer(visit, number, amount, "Lunch")
    page.get_by_role("button", name="Continue").click()
    confirm_with_pin(visit, f"Send ₦{amount}.00")
    page.wait_for_url(re.compile(r"/transfers/LP\w+$"))
    return page.url.rsplit("/", 1)[-1]


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None
    return found


def test_phone_shell_has_a_tab_bar_and_a_one_line_header(visit):  # type: ignore[no-untyped-def]
    page = visit.page
    register_in_browser(visit, "Ada Obi")
    page.set_viewport_size(PHONE)
    tabs = page.get_by_role("navigation", name="Tabs")
    expect(tabs).to_be_visible()
    assert box(tabs)["y"] + box(tabs)["height"] == pytest.approx(PHONE["height"], abs=1)
    header = page.locator(".topbar")
    assert box(header)["height"] <= 64  # one line, not five rows of links
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Send money")
    ).to_be_hidden()

    tabs.get_by_role("link", name="Pay").click()
    expect(page.get_by_role("heading", name="Pay bills")).to_be_visible()
    expect(tabs.get_by_role("link", name="Pay")).to_have_attribute("aria-current", "page")
    # The notifications list opens inside the screen, not off its left edge.
    page.locator("#header-notifications summary").click()
    panel = page.locator("#header-notifications .notes-panel")
    expect(panel).to_be_visible()
    assert box(panel)["x"] >= 0 and box(panel)["x"] + box(panel)["width"] <= PHONE["width"]
    visit.check("phone-bills-notifications")  # leaves the tab at desktop width
    page.set_viewport_size(PHONE)
    page.locator("#header-notifications summary").click()

    tabs.get_by_role("link", name="More").click()
    expect(page.get_by_role("heading", name="More")).to_be_visible()
    visit.check("phone-more")

    # On a desktop the tab bar gives way to the header's links, on one line at 1120 px too.
    for width in (1120, DESKTOP["width"]):
        page.set_viewport_size({"width": width, "height": DESKTOP["height"]})
        expect(tabs).to_be_hidden()
        links = page.get_by_role("navigation", name="Main").get_by_role("link")
        tops = {round(box(links.nth(i))["y"]) for i in range(links.count())}
        assert len(tops) == 1, f"the header's links wrap at {width}px: {tops}"
        fits = "() => document.querySelector('.topbar').scrollWidth <= window.innerWidth"
        assert page.evaluate(fits), f"the header is wider than {width}px"
        logout = box(page.locator(".topbar").get_by_role("button", name="Sign out"))
        assert logout["x"] + logout["width"] <= width


def test_balance_hide_toggle_is_remembered(visit):  # type: ignore[no-untyped-def]
    page = visit.page
    register_in_browser(visit, "Ada Obi")
    balance = page.get_by_test_id("balance-NGN")
    expect(balance).to_have_text("₦100,000.00")
    page.get_by_role("button", name="Hide balance").click()
    expect(balance).to_be_hidden()
    expect(page.get_by_role("button", name="Show balance")).to_have_attribute(
        "aria-pressed", "true"
    )
    visit.check("dashboard-balance-hidden")
    page.reload()
    expect(balance).to_be_hidden()  # remembered on this device
    page.get_by_role("button", name="Show balance").click()
    expect(balance).to_be_visible()
    page.reload()
    expect(balance).to_have_text("₦100,000.00")


def test_without_javascript_balances_show_and_js_buttons_stay_hidden(visit_without_js, register):  # type: ignore[no-untyped-def]
    visit = visit_without_js
    page = visit.page
    bayo = register("Bayo Adeyemi")
    number = register_in_browser(visit, "Ada Obi")
    assert number
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦100,000.00")
    expect(page.get_by_role("button", name="Hide balance")).to_be_hidden()
    visit.goto("/transfers/new")
    page.get_by_label("Recipient's account number").fill(bayo.account_number)
    page.get_by_label("Amount").fill("1,000")
    page.get_by_role("button", name="Continue").click()
    confirm_with_pin(visit, "Send ₦1,000.00")
    page.wait_for_url(re.compile(r"/transfers/LP\w+$"))
    for name in ("Print receipt", "Share", "Copy link"):
        expect(page.get_by_role("button", name=name)).to_be_hidden()
    expect(page.get_by_role("link", name="Download PDF")).to_be_visible()
    visit.check("receipt-no-js")


def test_times_are_lagos_time_and_the_receipt_pdf_opens(visit, register):  # type: ignore[no-untyped-def]
    page = visit.page
    bayo = register("Bayo Adeyemi")
    register_in_browser(visit, "Ada Obi")
    reference = send_to(visit, bayo.account_number, "2,500")
    visit.goto(f"/transactions/{reference}")
    when = page.locator("time").first
    stored = datetime.fromisoformat(when.get_attribute("datetime"))
    expect(when).to_have_text(lagos_label(stored))
    assert when.inner_text().endswith(" WAT")
    expect(page.get_by_test_id("receipt-direction")).to_contain_text("Money out")
    expect(page.get_by_test_id("receipt-to")).to_contain_text(f"Bayo A. · {bayo.account_number}")
    visit.check("receipt-page")
    visit.goto("/dashboard")
    expect(page.locator("#history-rows time").first).to_contain_text(" WAT")

    visit.goto(f"/transactions/{reference}")
    href = page.get_by_role("link", name="Download PDF").get_attribute("href")
    answer = page.request.get(visit.url(href))
    assert answer.ok and answer.headers["content-type"] == "application/pdf"
    body = answer.body()
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    assert f"Lumipay receipt {reference}".encode() in body


def test_card_termination_needs_its_confirmation(visit):  # type: ignore[no-untyped-def]
    page = visit.page
    register_in_browser(visit, "Ada Obi")
    create_card(visit, "Groceries", single_use=False)
    page.get_by_role("link", name="Terminate card…").click()
    expect(page.get_by_role("heading", name="Terminate this card?")).to_be_visible()
    expect(page.get_by_text("This is final.")).to_be_visible()
    visit.check("card-terminate-confirm")
    page.get_by_role("link", name="Keep my card").click()
    expect(page.get_by_test_id("card-status")).to_have_text("Active")
    page.get_by_role("link", name="Terminate card…").click()
    page.get_by_role("button", name="Terminate card for good").click()
    expect(page.get_by_test_id("card-status")).to_have_text("Terminated")
    expect(page.get_by_role("link", name="Terminate card…")).to_have_count(0)
