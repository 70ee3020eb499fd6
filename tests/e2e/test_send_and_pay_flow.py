"""Issue 20's flows in a real browser: the transaction PIN on every debit's confirm step (and
its lockout after five wrong tries), sending to another bank by name enquiry, the tier's limit
said at step one, the confirm step of each bill kind, and the "done when" journey of a
first-time customer on a phone (360×780), a screenshot and an axe-core run at every step.

Navigation is by address, not by the header's links, so the journey reads the same whatever
the header looks like. Waits are on conditions, never on the clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import expect

from tests.conftest import set_tier
from tests.e2e.conftest import PHONE
from tests.e2e.test_bill_flow import worker as worker  # the real RQ worker fixture
from tests.e2e.test_browser_flows import confirm_with_pin, register_in_browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
GTB_ACCOUNT = "0123456789"  # the sandbox bank names a holder for numbers not ending 0000
WRONG_PIN = "1397"


def verified(app: Flask, account_number: str, tier: int = 2) -> None:
    """The back office's approval of the customer's BVN and ID document (the KYC flow has its
    own browser test): their tier, set directly."""
    from lumipay.auth.models import User
    from lumipay.extensions import db

    with app.app_context():
        email = db.session.query(User.email).filter(User.account_number == account_number)
        set_tier(email.scalar(), tier)


def pin_field(visit: Any) -> Any:
    return visit.page.get_by_label("Transaction PIN")


def send_step_one(visit: Any, amount: str, *, bank: str = "Lumipay", to: str) -> None:
    page = visit.page
    visit.goto("/transfers/new")
    page.get_by_label("Bank", exact=True).select_option(label=bank)
    page.get_by_label("Recipient's account number").press_sequentially(to)
    page.get_by_label("Amount", exact=True).fill(amount)
    page.get_by_role("button", name="Continue").click()


def airtime_step_one(visit: Any, amount: str = "500") -> None:
    page = visit.page
    visit.goto("/bills/airtime")
    page.get_by_role("link", name=re.compile(r"^Use my number")).click()  # a plain link
    expect(page.get_by_label("Phone number")).not_to_have_value("")
    page.get_by_label("Network").select_option("mtn")
    page.get_by_label("Amount (₦)").fill(amount)
    page.get_by_role("button", name="Continue").click()


def data_step_one(visit: Any) -> None:
    page = visit.page
    visit.goto("/bills/data")
    page.get_by_label("Data plan").select_option(label="MTN · 1GB, 1 day · ₦350.00")
    page.get_by_label("Phone number").fill("0803 123 4567")
    page.get_by_role("button", name="Continue").click()


def electricity_step_one(visit: Any) -> None:
    page = visit.page
    visit.goto("/bills/electricity")
    page.get_by_role("link", name=re.compile(r"^Use my number")).click()
    expect(page.get_by_label("Phone number for the receipt")).not_to_have_value("")
    page.get_by_label("Prepaid").check()
    page.get_by_label("Meter number").fill("45012345678")
    page.get_by_label("Amount (₦)").fill("2,000")
    page.get_by_role("button", name="Verify meter").click()


def conversion_step_one(app: Flask, visit: Any) -> None:
    from lumipay.fx.service import update_rates

    page = visit.page
    with app.app_context():
        update_rates()
    visit.goto("/fx/convert")
    page.get_by_label("To wallet", exact=True).select_option(label="USD wallet · $0.00 available")
    page.get_by_label("Amount", exact=True).fill("1,000")
    page.get_by_role("button", name="Get a quote").click()


def open_usd_wallet(visit: Any) -> None:
    page = visit.page
    visit.goto("/dashboard")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Open wallet").click()
    expect(page.get_by_test_id("balance-USD")).to_have_text("$0.00")


def new_card_form(visit: Any) -> None:
    page = visit.page
    visit.goto("/cards/new")
    page.get_by_label("Card name").fill("Streaming")


def test_the_pin_is_asked_on_the_confirm_step_of_each_debit_kind(app, visit):
    page = visit.page
    verified(app, register_in_browser(visit, "Ada Obi"))  # other banks too
    bayo = register_in_browser_second(app)
    open_usd_wallet(visit)
    kinds: dict[str, tuple[Callable[[], None], str]] = {
        "transfer": (lambda: send_step_one(visit, "1,000", to=bayo), "Send ₦1,000.00"),
        "other-bank": (
            lambda: send_step_one(visit, "1,000", bank="Guaranty Trust Bank", to=GTB_ACCOUNT),
            "Send ₦1,000.00",
        ),
        "airtime": (lambda: airtime_step_one(visit), "Pay ₦500.00"),
        "data": (lambda: data_step_one(visit), "Pay ₦350.00"),
        "electricity": (lambda: electricity_step_one(visit), "Pay ₦2,100.00"),
        "conversion": (lambda: conversion_step_one(app, visit), "Convert"),
        "new-card": (lambda: new_card_form(visit), "Create card"),
    }
    for kind, (step_one, button) in kinds.items():
        step_one()
        expect(pin_field(visit)).to_be_visible()
        visit.check(f"{kind}-confirm")
        page.get_by_role("button", name=button).click()  # the PIN left empty
        expect(page.locator("#pin-error")).to_have_text("Enter your transaction PIN.")
        expect(pin_field(visit)).to_have_attribute("aria-invalid", "true")
    visit.goto("/dashboard")
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦100,000.00")
    expect(page.get_by_test_id("available-NGN")).to_have_text("₦100,000.00")


def register_in_browser_second(app: Flask) -> str:
    """Another customer, registered through the service (the browser stays signed in as Ada)."""
    from lumipay.audit.service import SYSTEM
    from lumipay.auth.service import register_customer
    from tests.conftest import unique_details

    with app.app_context():
        return register_customer(**unique_details("Bayo Adeyemi"), origin=SYSTEM).account_number


def test_five_wrong_pins_lock_it_and_the_right_one_no_longer_works(app, visit):
    page = visit.page
    register_in_browser(visit, "Ada Obi")
    bayo = register_in_browser_second(app)
    send_step_one(visit, "1,000", to=bayo)
    for attempt in range(1, 6):
        pin_field(visit).fill(WRONG_PIN)
        page.get_by_role("button", name="Send ₦1,000.00").click()
        error = page.locator("#pin-error")
        if attempt < 5:
            expect(error).to_have_text("That PIN is not right.")
    expect(page.locator("#pin-error")).to_contain_text("Your transaction PIN is locked")
    visit.check("pin-locked")
    confirm_with_pin(visit, "Send ₦1,000.00")
    expect(page.locator("#pin-error")).to_contain_text("Your transaction PIN is locked")
    visit.goto("/auth/security")
    expect(page.get_by_text("Locked after too many wrong tries.")).to_be_visible()
    expect(page.get_by_role("link", name="Reset a forgotten or locked PIN")).to_be_visible()
    visit.check("security-locked")
    visit.goto("/dashboard")
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦100,000.00")


def test_sending_to_another_bank_names_the_holder_and_shows_the_fee(app, visit):
    page = visit.page
    number = register_in_browser(visit, "Ada Obi")
    visit.goto("/transfers/new")
    notice = page.locator("#other-bank-tier-notice")
    expect(notice).to_contain_text("Payouts to other banks start at Tier 2")
    expect(notice.get_by_role("link", name="Go to Verification")).to_have_attribute("href", "/kyc")
    visit.check("send-tier-one")
    verified(app, number)
    visit.goto("/transfers/new")
    expect(page.locator("#other-bank-tier-notice")).to_have_count(0)
    page.get_by_label("Bank", exact=True).select_option(label="Guaranty Trust Bank")
    page.get_by_label("Recipient's account number").press_sequentially(GTB_ACCOUNT)
    holder = page.locator("#recipient #account-name")
    expect(holder).to_have_text(re.compile(r"^[A-Z ]+$"))
    name = holder.inner_text()
    page.get_by_label("Amount", exact=True).fill("5,000")
    visit.check("send-other-bank")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Confirm transfer")).to_be_visible()
    expect(page.locator("#account-name")).to_have_text(name)
    expect(page.locator("#payout-fee")).to_have_text("₦50.00")
    visit.check("send-other-bank-confirm")
    confirm_with_pin(visit, "Send ₦5,000.00")
    page.wait_for_url(re.compile(r"/bank/payouts/PO\w+$"))
    expect(page.locator(".receipt")).to_contain_text(name)
    visit.check("send-other-bank-sent")
    visit.goto("/dashboard")
    expect(page.get_by_test_id("available-NGN")).to_have_text("₦94,950.00")


def test_a_limit_is_refused_at_step_one_with_what_remains_today(app, visit):
    page = visit.page
    register_in_browser(visit, "Ada Obi")
    bayo = register_in_browser_second(app)
    send_step_one(visit, "50,000.01", to=bayo)
    expect(page.locator("#amount-error")).to_contain_text(
        "more than your Tier 1 limit of ₦50,000.00 per transaction"
    )
    expect(page.get_by_role("heading", name="Send money")).to_be_visible()
    expect(pin_field(visit)).to_have_count(0)  # no confirm step
    expect(page.locator("#left-today")).to_contain_text("You can send ₦50,000.00 more today")
    visit.check("limit-at-step-one")


def test_each_bill_kind_has_a_confirm_step_with_its_fee(app, visit, worker):
    page = visit.page
    register_in_browser(visit, "Ada Obi")
    airtime_step_one(visit)
    expect(page.get_by_role("heading", name="Confirm airtime payment")).to_be_visible()
    expect(page.locator("#bill-fee")).to_have_text("₦0.00")
    data_step_one(visit)
    expect(page.get_by_role("heading", name="Confirm data payment")).to_be_visible()
    expect(page.locator("#bill-description")).to_contain_text("MTN")
    electricity_step_one(visit)
    expect(page.get_by_role("heading", name="Confirm electricity payment")).to_be_visible()
    expect(page.locator("#customer-name")).to_have_text(re.compile(r"^[A-Z ]+$"))
    expect(page.locator("#bill-fee")).to_have_text("₦100.00")
    visit.check("electricity-confirm")
    confirm_with_pin(visit, "Pay ₦2,100.00")
    page.wait_for_url(re.compile(r"/bills/BL\w+$"))
    worker()
    token = page.get_by_test_id("token")
    expect(token).to_have_text(re.compile(r"^(\d{4}-){4}\d{4}$"))
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    visit.check("electricity-token")


@dataclass
class Journey:
    """The "done when" journey's closing-note table: step → screenshot → axe violations."""

    visit: Any
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def step(self, name: str) -> None:
        page = self.visit.page
        page.set_viewport_size(PHONE)
        page.wait_for_load_state("load")
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"journey-{len(self.rows) + 1:02d}-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        self.visit.check(name)  # axe-core (fails on serious or critical) and both widths
        page.set_viewport_size(PHONE)
        found = self.visit.checked.get(name, [])
        said = ", ".join(f"{v['id']} ({v['impact']})" for v in found) or "none"
        self.rows.append((name, str(shot.relative_to(ARTIFACTS.parents[2])), said))

    def table(self) -> str:
        lines = ["| step | screenshot (360×780) | axe violations |", "|---|---|---|"]
        lines += [f"| {step} | {shot} | {said} |" for step, shot, said in self.rows]
        return "\n".join(lines)


def test_done_when_a_first_time_customer_on_a_phone_sends_and_pays_each_bill(
    app, visit, worker, capsys
):
    page = visit.page
    page.set_viewport_size(PHONE)
    journey = Journey(visit)
    bayo = register_in_browser_second(app)

    number = register_in_browser(visit, "Ada Obi", check=journey.step)  # then sets the PIN
    journey.step("pin-set-dashboard")

    send_step_one(visit, "2,000", to=bayo)
    expect(page.get_by_role("heading", name="Confirm transfer")).to_be_visible()
    journey.step("send-to-customer-confirm")
    confirm_with_pin(visit, "Send ₦2,000.00")
    page.wait_for_url(re.compile(r"/transfers/\w+$"))
    expect(page.get_by_role("heading", name="Transfer sent")).to_be_visible()
    receipt = page.url
    journey.step("send-to-customer-receipt")

    # Other banks need Tier 2: the step-one notice links to Verification, where the back
    # office's approval of her BVN and ID stands in here (the KYC flow has its own e2e test).
    visit.goto("/transfers/new")
    expect(page.locator("#other-bank-tier-notice")).to_be_visible()
    journey.step("send-other-bank-needs-verification")
    verified(app, number)
    send_step_one(visit, "3,000", bank="Guaranty Trust Bank", to=GTB_ACCOUNT)
    expect(page.locator("#payout-fee")).to_have_text("₦50.00")
    journey.step("send-other-bank-confirm")
    confirm_with_pin(visit, "Send ₦3,000.00")
    page.wait_for_url(re.compile(r"/bank/payouts/PO\w+$"))
    journey.step("send-other-bank-sent")

    for kind, step_one, button in (
        ("airtime", lambda: airtime_step_one(visit), "Pay ₦500.00"),
        ("data", lambda: data_step_one(visit), "Pay ₦350.00"),
        ("electricity", lambda: electricity_step_one(visit), "Pay ₦2,100.00"),
    ):
        step_one()
        expect(page.get_by_role("heading", name=f"Confirm {kind} payment")).to_be_visible()
        journey.step(f"{kind}-confirm")
        confirm_with_pin(visit, button)
        page.wait_for_url(re.compile(r"/bills/BL\w+$"))
        journey.step(f"{kind}-paid")
    worker()
    expect(page.get_by_test_id("token")).to_be_visible()
    journey.step("electricity-token")

    page.goto(receipt)
    expect(page.get_by_role("heading", name="Transfer sent")).to_be_visible()
    journey.step("receipt")
    visit.goto("/dashboard")
    expect(page.locator("#account-number")).to_have_text(number)
    # ₦100,000 − 2,000 − (3,000 + 50 held) − 500 − 350 − 2,100
    expect(page.get_by_test_id("available-NGN")).to_have_text("₦92,000.00")
    journey.step("dashboard-after")

    table = journey.table()
    (ARTIFACTS / "journey.md").write_text(table + "\n", encoding="utf-8")
    with capsys.disabled():
        print("\n" + table)
    assert [row[0] for row in journey.rows][:3] == ["register", "pin", "pin-set-dashboard"]
    assert len(journey.rows) == 17
