"""Top up in a real browser through the sandbox provider's checkout page, as in `make dev`.

The page served at /bank/sandbox/checkout/<reference> stands in for Moniepoint's. Its "Pay"
makes the sandbox send the signed payment webhook (an outbox job); a real RQ worker processes
it, and the top-up's page, left open, shows "Credited" by its own HTMX polling.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from lumipay.auth.models import User
from lumipay.extensions import db
from tests.e2e.test_browser_flows import confirm_with_pin, register_in_browser
from tests.integration.helpers.bank import BANK_SECRET
from tests.integration.helpers.bills import run_worker

TOPUP_PAGE = re.compile(r"/bank/topups/TU\w+$")


@pytest.fixture()
def worker(redis_clean: Any) -> Callable[[], Any]:
    """A real RQ worker over an empty test Redis: it drains every queue, then exits."""
    return lambda: run_worker(BANK_WEBHOOK_SECRET=BANK_SECRET)


def test_top_up_through_the_sandbox_checkout(visit, worker, app, monkeypatch):
    from tests.integration.helpers.bills import SECRET

    monkeypatch.setitem(
        app.config, "WEBHOOK_SECRETS", {"bills": SECRET, "bank": BANK_SECRET, "cards": ""}
    )
    monkeypatch.setitem(app.config, "SANDBOX_DELAY", 0)
    page = visit.page
    register_in_browser(visit, "Ada Obi")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Top up & pay out").click()
    expect(page.get_by_text("No top-ups yet.")).to_be_visible()
    visit.check("bank")
    page.get_by_role("link", name="Top up", exact=True).click()
    expect(page.get_by_role("heading", name="Top up your wallet")).to_be_visible()
    visit.check("topup-form")
    page.get_by_label("Amount (₦)").fill("5,000")
    page.get_by_label("Moniepoint: card or bank on a payment page").check()
    page.get_by_role("button", name="Get payment details").click()
    page.wait_for_url(TOPUP_PAGE)
    expect(page.get_by_test_id("topup-status")).to_have_text("Pending")
    visit.check("topup-pending")

    page.get_by_role("link", name="Continue to the payment page").click()
    expect(page.get_by_role("heading", name="Pay Lumipay")).to_be_visible()
    expect(page.get_by_label("Amount to pay (₦)")).to_have_value("5000.00")
    visit.check("sandbox-checkout")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url(TOPUP_PAGE)
    expect(page.locator(".flashes")).to_contain_text("Paid.")
    expect(page.get_by_test_id("topup-status")).to_have_text("Pending")

    worker()

    expect(page.get_by_test_id("topup-status")).to_have_text("Credited", timeout=15_000)
    expect(page.locator("#topup-status")).to_contain_text("₦5,000.00")
    visit.check("topup-credited")
    nav.get_by_role("link", name="Dashboard").click()
    page.wait_for_url("**/dashboard")
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦105,000.00")
    expect(page.get_by_test_id("unread-count")).to_have_text("1")


def test_payout_shows_the_account_holder_as_the_number_is_typed(visit, app):
    page = visit.page
    number = register_in_browser(visit, "Ada Obi")
    with app.app_context():  # payouts start at Tier 2
        db.session.execute(update(User).where(User.account_number == number).values(kyc_tier=2))
        db.session.commit()
    page.goto(visit.url("/bank/payout"))
    expect(page.get_by_role("heading", name="Pay out to a bank account")).to_be_visible()
    page.get_by_label("Bank").select_option("058")
    page.get_by_label("Account number").fill("0123456789")
    holder = page.locator("#holder #account-name")
    expect(holder).to_have_text(re.compile(r"^[A-Z ]+$"))
    name = holder.inner_text()
    page.get_by_label("Account number").fill("0123450000")
    expect(page.locator("#holder")).to_contain_text("No account with that number")
    page.get_by_label("Account number").fill("0123456789")
    expect(holder).to_have_text(name)
    page.get_by_label("Amount (₦)").fill("2,500")
    page.get_by_label("Narration (optional)").fill("School fees")
    visit.check("payout-form")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Confirm payout")).to_be_visible()
    expect(page.locator("#account-name")).to_have_text(name)
    visit.check("payout-confirm")
    confirm_with_pin(visit, "Pay out ₦2,500.00")
    # Under PAYOUT_APPROVAL_THRESHOLD (₦100,000 by default) it goes to the bank at once.
    expect(page.get_by_test_id("payout-status")).not_to_have_text("Awaiting approval")
    expect(page.locator(".receipt")).to_contain_text("₦2,550.00")
    visit.check("payout-sent")
