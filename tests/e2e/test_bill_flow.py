"""Issue 8: pay a bill in a real browser and watch its status change without reloading the page.

The e2e server has REDIS_URL set, so paying only holds the money and queues the provider call:
the bill's page shows "Processing" and HTMX asks for its status block every 2 seconds. The test
then runs a real RQ worker (`python -m lumipay.worker --burst`, as the integration tests do) on
the same PostgreSQL and Redis; it calls the sandbox provider, whose signed webhook settles the
bill, and the next poll swaps the final status into the page the customer is still looking at.
Waits are on conditions, never on the clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import PIN
from tests.e2e.test_browser_flows import register_in_browser
from tests.integration.helpers.bills import run_worker

BILL_PAGE = re.compile(r"/bills/BL\w+$")
MARKER = "bill page, never reloaded"


@pytest.fixture()
def worker(redis_clean: Any) -> Callable[[], Any]:
    """Runs a real RQ worker over an empty test Redis: it drains every queue, then exits.

    The test decides when, so the page is seen processing first. Without Redis the app would
    run the jobs in the request and there would be nothing to watch: `redis_clean` skips then.
    """
    return run_worker


def pay_airtime(visit: Any, phone: str, amount: str) -> None:
    """From the dashboard: Pay bills, Airtime, then the form; lands on the bill's page."""
    page = visit.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pay bills").click()
    expect(page.get_by_role("heading", name="Pay bills")).to_be_visible()
    expect(page.get_by_text("No bills yet.")).to_be_visible()
    visit.check("bills")
    page.get_by_role("link", name="Airtime", exact=True).click()
    expect(page.get_by_role("heading", name="Buy airtime")).to_be_visible()
    visit.check("airtime-form")
    page.get_by_label("Network").select_option("mtn")
    page.get_by_label("Phone number").fill(phone)
    page.get_by_label("Amount").fill(amount)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Confirm airtime payment")).to_be_visible()
    visit.check("airtime-confirm")
    page.get_by_label("Transaction PIN").fill(PIN)
    page.get_by_role("button", name=re.compile(r"^Pay ₦")).click()
    page.wait_for_url(BILL_PAGE)


def settle_and_watch(visit: Any, worker: Callable[[], Any], final: str) -> None:
    """Run the worker while the bill's page stays open; the status must change in place."""
    page = visit.page
    status = page.get_by_test_id("bill-status")
    expect(status).to_have_text("Processing")
    navigations: list[str] = []
    polls: list[str] = []
    page.on(
        "framenavigated",
        lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
    )
    page.on(
        "request",
        lambda request: polls.append(request.url) if request.url.endswith("/status") else None,
    )
    # A reload or any navigation would start a fresh document without this.
    page.evaluate("marker => { window.lumipayTestMarker = marker }", MARKER)

    worker()

    expect(status).to_have_text(final)
    assert page.evaluate("() => window.lumipayTestMarker") == MARKER
    assert navigations == [], f"the page navigated: {navigations}"
    assert polls, "the final status did not arrive by HTMX polling"
    assert BILL_PAGE.search(page.url)
    # A final bill stops asking.
    assert page.locator("#bill-status").get_attribute("hx-trigger") is None


def balances_in_new_tab(visit: Any) -> tuple[str, str]:
    """The dashboard's NGN balance and available balance, read in a second tab."""
    tab = visit.page.context.new_page()
    try:
        tab.goto(visit.url("/dashboard"))
        balance = tab.get_by_test_id("balance-NGN").inner_text()
        available = tab.get_by_test_id("available-NGN").inner_text()
    finally:
        tab.close()
    return balance, available


def test_airtime_shows_processing_then_succeeded_in_place(visit, worker):
    page = visit.page
    register_in_browser(visit, "Ada Obi")
    expect(page.get_by_test_id("available-NGN")).to_have_text("₦100,000.00")

    pay_airtime(visit, "0803 123 4567", "1,500")
    expect(page.locator(".flashes")).to_contain_text("Payment received.")
    expect(page.get_by_role("heading", name="Airtime receipt")).to_be_visible()
    expect(page.locator(".receipt")).to_contain_text("MTN airtime for 08031234567")
    expect(page.get_by_test_id("bill-status")).to_have_text("Processing")
    expect(page.locator("#bill-status")).to_contain_text(
        "₦1,500.00 is held on your wallet until the provider answers."
    )
    expect(page.locator("#bill-status")).to_have_attribute("hx-trigger", "every 2s")
    visit.check("bill-processing")
    # Held, not yet taken: the balance is whole, the available balance is not.
    assert balances_in_new_tab(visit) == ("₦100,000.00", "₦98,500.00")

    settle_and_watch(visit, worker, "Succeeded")
    expect(page.locator("#bill-status")).not_to_contain_text("held")
    visit.check("bill-succeeded")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    page.wait_for_url("**/dashboard")
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦98,500.00")
    expect(page.get_by_test_id("available-NGN")).to_have_text("₦98,500.00")
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    visit.check("dashboard-after-bill")


def test_airtime_to_a_number_ending_0000_fails_and_the_money_is_back(visit, worker):
    page = visit.page
    register_in_browser(visit, "Ada Obi")

    pay_airtime(visit, "08031230000", "2,000")
    expect(page.locator("#bill-status")).to_contain_text("₦2,000.00 is held on your wallet")
    assert balances_in_new_tab(visit) == ("₦100,000.00", "₦98,000.00")

    settle_and_watch(visit, worker, "Failed")
    expect(page.locator("#bill-status")).to_contain_text(
        "₦2,000.00 is back in your available balance. The recipient could not be credited."
    )
    visit.check("bill-failed")

    page.get_by_role("link", name="All bills").click()
    row = page.locator("#bills tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("MTN airtime for 08031230000")
    expect(row).to_contain_text("Failed")
    visit.check("bills-list")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    page.wait_for_url("**/dashboard")
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦100,000.00")
    expect(page.get_by_test_id("available-NGN")).to_have_text("₦100,000.00")
    visit.check("dashboard-after-refund")
