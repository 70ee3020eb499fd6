"""Red-team review of the posting function's callers: races and tampering that must move money
once or not at all (PostgreSQL, threads released together by a barrier, real services)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lumipay.audit.service import SYSTEM
from lumipay.extensions import db
from lumipay.forms import new_idempotency_key
from lumipay.idempotency.models import IdempotencyRecord
from lumipay.idempotency.service import IdempotencyError
from lumipay.ledger.models import Account, Hold
from lumipay.ledger.verify import verify_ledger
from lumipay.refusals import Refused
from lumipay.transfers.models import Transfer
from lumipay.transfers.service import send_transfer
from tests.conftest import set_tier, submit_debit
from tests.integration.test_posting_function import WELCOME, customers, together


def test_concurrent_twins_of_one_page_form_make_one_transfer(app: Flask, ctx):
    """A page form's key is claimed inside the posting's own statement: twins released together
    must make one transfer, the others replay it (never a second debit)."""
    sender, recipient = customers(2)
    set_tier(sender[3], 3)
    key = new_idempotency_key()

    def send_twin(i: int) -> str:
        try:
            sent = send_transfer(
                sender[0], sender[1], recipient[2], 1_000_000, "twin",
                idempotency_key=key, origin=SYSTEM,
            )  # fmt: skip
        except (IdempotencyError, Refused) as exc:
            return type(exc).__name__
        return "replayed" if sent.replayed else "sent"

    outcomes = together(app, 8, send_twin)
    assert outcomes.count("sent") == 1, outcomes
    db.session.expire_all()
    assert db.session.get(Account, sender[1]).balance == WELCOME - 1_000_000
    assert (
        db.session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.sender_id == sender[0])
        )
        == 1
    )
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.owner_id == sender[0])
        )
        == 1
    )
    assert verify_ledger().ok


def test_money_held_today_counts_towards_the_daily_step_up(app, ctx, register, monkeypatch):
    """Payouts (and bills) hold the money until the provider settles: the day's debits that
    call for the emailed code must count those holds, or any number of sends just under the
    per-debit threshold pass the day's threshold with the PIN alone."""
    from tests.integration.helpers.bank import use_sandbox_bank
    from tests.integration.test_send_any_bank import send_step_one

    use_sandbox_bank(app, monkeypatch, approval_threshold=app.config["PAYOUT_APPROVAL_THRESHOLD"])
    monkeypatch.setitem(app.config, "INITIAL_BONUS", 30_000_000)
    ada = register("Ada Obi")
    set_tier(ada.email, 3)
    # Two sends of ₦45,000 (each under the ₦50,000 per-debit threshold), held at the bank.
    for _ in range(2):
        confirm = send_step_one(ada, "45,000")
        assert confirm.status_int == 200, confirm.text
        sent = submit_debit(ada.browser.app, confirm.forms["confirm-form"])
        assert sent.status_int == 303, sent.text
    assert db.session.scalar(select(func.count(Hold.id)).where(Hold.status == "active")) == 2
    # The third takes the day past ₦100,000: it asks for the emailed code.
    confirm = send_step_one(ada, "45,000")
    third = confirm.forms["confirm-form"].submit(expect_errors=True)
    assert third.status_int == 422, "a third send past the day's threshold went with the PIN alone"
    assert 'id="email_code-error"' in third.text
    assert db.session.scalar(select(func.count(Hold.id)).where(Hold.status == "active")) == 2


def _bank_payout_step_one(customer: Any) -> Any:
    form = customer.get("/bank/payout").forms["payout-form"]
    form["bank_code"] = "058"
    form["account_number"] = "0123456789"
    form["amount"] = "1,000"
    return form.submit(expect_errors=True)


@pytest.mark.parametrize(
    ("page", "form_id", "number_field"),
    [("send money", "confirm-form", "to_account_number"),
     ("bank payout", "payout-confirm-form", "account_number")],
)  # fmt: skip
def test_the_confirm_step_counts_as_a_name_enquiry(
    app, ctx, register, monkeypatch, page, form_id, number_field
):
    """The confirm step of a payout looks the holder up again (and shows the name when the
    PIN is refused): it counts against the name-enquiry limit like step one, or a blank PIN
    turns it into an unlimited name lookup at any bank."""
    from tests.integration.helpers.bank import use_sandbox_bank
    from tests.integration.test_send_any_bank import send_step_one

    use_sandbox_bank(app, monkeypatch, approval_threshold=app.config["PAYOUT_APPROVAL_THRESHOLD"])
    monkeypatch.setitem(app.config, "LIMIT_NAME_ENQUIRY", "3 per minute")
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    # Step one: one name enquiry.
    confirm = send_step_one(ada, "1,000") if page == "send money" else _bank_payout_step_one(ada)
    assert confirm.status_int == 200, confirm.text
    ada.browser.pin = None  # the PIN field stays blank: refused before the PIN is checked
    statuses = []
    for number in ("0123456781", "0123456782", "0123456783"):
        form = confirm.forms[form_id]
        form[number_field] = number
        form["pin"] = ""
        statuses.append(form.submit(expect_errors=True).status_int)
    assert statuses == [422, 422, 429], statuses
    assert db.session.scalar(select(func.count(Hold.id)).where(Hold.status == "active")) == 0
