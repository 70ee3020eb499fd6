"""Helpers for the bank tests: top-ups and payouts through the forms, signed bank deliveries."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from lumipay.bank.models import Payout, TopUp
from lumipay.extensions import db
from lumipay.ledger.models import Account, Entry
from lumipay.providers import signing
from tests.conftest import set_tier, submit_debit
from tests.integration.helpers.bills import SECRET, run_worker

BANK_SECRET = "test-bank-webhook-secret-0123456789"
WEBHOOK = "/api/lumipay/v1/webhooks/bank"
GTB = "058"


def settle(**extra: str) -> None:
    """A real RQ worker drains every queue (provider calls, webhooks, requeries)."""
    run_worker(
        BANK_WEBHOOK_SECRET=BANK_SECRET, PAYOUT_REQUERY_BACKOFF="0", PAYOUT_FEE="5000", **extra
    )
    db.session.expire_all()


def reference_in(response: Any) -> str:
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def start_topup(customer: Any, amount: str, method: str) -> Any:
    form = customer.get("/bank/topup").forms["topup-form"]
    form["amount"] = amount
    form["method"] = method
    return form.submit(expect_errors=True)


def topup(reference: str) -> TopUp:
    db.session.expire_all()
    return db.session.scalar(select(TopUp).where(TopUp.reference == reference))


def payout(reference: str) -> Payout:
    db.session.expire_all()
    return db.session.scalar(select(Payout).where(Payout.reference == reference))


def pay_on_sandbox_page(customer: Any, detail: Any, amount: str | None = None) -> Any:
    """From the top-up's page, follow the link to the sandbox provider's page and press Pay."""
    link = detail.html.find(id="checkout-link") or detail.html.find(
        "a", string=lambda s: s and "Sandbox" in s
    )
    page = customer.get(link["href"])
    form = page.forms["sandbox-pay-form"]
    if amount is not None:
        form["amount"] = amount
    return form.submit(expect_errors=True)


def payout_step_one(
    customer: Any, account_number: str, amount: str, narration: str = "", bank: str = GTB
) -> Any:
    form = customer.get("/bank/payout").forms["payout-form"]
    form["bank_code"] = bank
    form["account_number"] = account_number
    form["amount"] = amount
    form["narration"] = narration
    return form.submit(expect_errors=True)


def request_payout(customer: Any, account_number: str, amount: str, narration: str = "") -> Any:
    """Step one and the confirm step; step one's 422 when it refused (the balance and the
    tier's limits are said before the confirm step), else the confirm's response."""
    confirm = payout_step_one(customer, account_number, amount, narration)
    if confirm.status_int == 422:
        return confirm
    assert confirm.status_int == 200, confirm.text
    return submit_debit(customer.browser.app, confirm.forms["payout-confirm-form"])


def bank_delivery(
    event_type: str, data: dict[str, Any], *, secret: str = BANK_SECRET, event_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": event_type, "data": data}
    raw = json.dumps(body).encode()
    return raw, signing.signed_headers(secret, int(time.time()), raw)


def system_balance(code: str) -> int:
    account = db.session.scalar(select(Account).where(Account.code == code))
    if account is None:
        return 0
    return int(
        db.session.scalar(select(func.sum(Entry.amount)).where(Entry.account_id == account.id)) or 0
    )


__all__ = ["SECRET", "settle"]


def use_sandbox_bank(
    app: Any,
    monkeypatch: Any,
    approval_threshold: int = 0,
    requery_backoff: list[int] | None = None,
) -> None:
    """The bank sandbox answering at once, with known webhook secrets; payouts above
    `approval_threshold` (minor units) wait for an admin. The one bank configuration of the
    tests: every module that needs the bank calls this from its own fixture."""
    monkeypatch.setitem(
        app.config, "WEBHOOK_SECRETS", {"bills": SECRET, "bank": BANK_SECRET, "cards": ""}
    )
    monkeypatch.setitem(app.config, "SANDBOX_DELAY", 0)
    monkeypatch.setitem(app.config, "BANK_PROVIDER_MODE", "sandbox")
    monkeypatch.setitem(app.config, "PAYOUT_FEE", 5_000)
    monkeypatch.setitem(app.config, "PAYOUT_APPROVAL_THRESHOLD", approval_threshold)
    if requery_backoff is not None:
        monkeypatch.setitem(app.config, "PAYOUT_REQUERY_BACKOFF", requery_backoff)


@pytest.fixture(name="register")
def tier_two_register(register):  # type: ignore[no-untyped-def]
    """`register` for customers who pay out, which starts at Tier 2 (a verified BVN or NIN
    and ID document). Import it into a test module to override the plain one there."""

    def make(name: str = "Test Customer", **overrides: str):  # type: ignore[no-untyped-def]
        customer = register(name, **overrides)
        set_tier(customer.email, 2)
        return customer

    return make
