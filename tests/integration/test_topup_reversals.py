"""Issue 17 case 2: a top-up the provider credits and then takes back (a reversal, a
chargeback, a refund to the payer). The wallet is debited in a linked reversing transaction,
what the customer already spent is owed (never a negative available balance), the customer is
told and the back office sees it; a provider event nobody understands is kept and flagged.
Signed deliveries to the bank webhook, processed in-process as in `make dev`, on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.ledger.models import LedgerTransaction
from lumipay.webhooks.models import WebhookEvent
from tests.conftest import set_tier
from tests.integration.helpers.bank import (
    WEBHOOK,
    bank_delivery,
    reference_in,
    start_topup,
    system_balance,
    topup,
    use_sandbox_bank,
)
from tests.integration.helpers.ledger import assert_ledger_ok
from tests.integration.test_bank_topups import CHECKOUT, payment_event
from tests.integration.test_transfers import balances_on_dashboard, send, wallet

PROVIDER_REF = "MNFY|20261201|TOPUP1"


@pytest.fixture(autouse=True)
def embedded_bank(app, monkeypatch):  # type: ignore[no-untyped-def]
    use_sandbox_bank(app, monkeypatch)
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def post(web, event_type: str, data: dict, event_id: str | None = None):  # type: ignore[no-untyped-def]
    raw, headers = bank_delivery(event_type, data, event_id=event_id)
    response = web.post(WEBHOOK, raw, headers=headers, expect_errors=True)
    assert response.status_int == 200, response.text
    db.session.expire_all()
    return response


def attention_count(overview, label: str) -> int:  # type: ignore[no-untyped-def]
    """The count the back office's "needs attention" list shows on the line named `label`."""
    for item in overview.html.select("ul.attention li"):
        if label in item.text:
            return int(item.find("strong").text)
    raise AssertionError(f"no attention line {label!r}")


def credited_top_up(web, customer, amount: str = "20,000") -> str:  # type: ignore[no-untyped-def]
    reference = reference_in(start_topup(customer, amount, CHECKOUT))
    kobo = int(amount.replace(",", "")) * 100
    post(web, *payment_event(reference=reference, amount=kobo, ref=PROVIDER_REF))
    assert topup(reference).status == "credited"
    return reference


REVERSALS = {
    "reversed transaction": (
        "REVERSED_TRANSACTION",
        {"transactionReference": PROVIDER_REF, "amount": "20000.00", "currency": "NGN"},
    ),
    "payment status reversed": (
        "SUCCESSFUL_TRANSACTION",
        {
            "transactionReference": PROVIDER_REF,
            "paymentReference": PROVIDER_REF,
            "amountPaid": "20000.00",
            "currency": "NGN",
            "paymentStatus": "REVERSED",
            "product": {"type": "WEB_SDK", "reference": "x"},
        },
    ),
    "chargeback": (
        "CHARGEBACK",
        {
            "transactionReference": PROVIDER_REF,
            "chargebackReference": "CB-1",
            "amount": "20000.00",
            "currency": "NGN",
        },
    ),
    "refund": (
        "SUCCESSFUL_REFUND",
        {
            "transactionReference": PROVIDER_REF,
            "refundReference": "RF-1",
            "refundAmount": "20000.00",
            "refundStatus": "COMPLETED",
        },
    ),
}


@pytest.mark.parametrize("form", list(REVERSALS))
def test_reversed_top_up_debits_the_wallet_and_what_was_spent_is_owed(ctx, register, web, form):  # type: ignore[no-untyped-def]
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    reference = credited_top_up(web, ada)
    assert balances_on_dashboard(ada) == ("₦120,000.00", "₦120,000.00")
    set_tier(ada.email, 3)
    send(ada, bayo.account_number, "105,000")  # ₦5,000 of the top-up is spent
    event_type, data = REVERSALS[form]

    post(web, event_type, data)
    post(web, event_type, data)  # the same news again, under another event id

    w = wallet(ada)
    assert (w.balance, w.held) == (0, 0)  # never a negative available balance
    reversed_topup = topup(reference)
    assert reversed_topup.status == "reversed"
    from lumipay.bank.reversals import TopUpReversal
    from lumipay.ledger import receivables

    assert receivables.owed(w.user_id, "NGN") == 500_000
    assert system_balance("moniepoint_clearing:NGN") == 0
    reversals = db.session.scalars(select(TopUpReversal)).all()
    assert len(reversals) == 1 and reversals[0].needs_attention
    assert (reversals[0].amount, reversals[0].owed) == (2_000_000, 500_000)
    txn = db.session.get(LedgerTransaction, reversals[0].transaction_id)
    assert txn.parent_id == reversed_topup.transaction_id
    notifications = ada.get("/notifications").text
    assert "Top-up reversed" in notifications and "₦5,000.00" in notifications
    assert_ledger_ok()


def test_a_reversal_of_unspent_money_owes_nothing(ctx, register, web):  # type: ignore[no-untyped-def]
    from lumipay.ledger import receivables

    ada = register("Ada Obi")
    credited_top_up(web, ada)
    post(web, *REVERSALS["reversed transaction"])
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert receivables.owed(wallet(ada).user_id, "NGN") == 0
    assert_ledger_ok()


def test_reversal_of_a_top_up_we_never_credited_is_kept_and_flagged(ctx, register, web):  # type: ignore[no-untyped-def]
    from lumipay.bank.reversals import TopUpReversal

    ada = register("Ada Obi")
    credited_top_up(web, ada)
    post(web, "REVERSED_TRANSACTION", {"transactionReference": "MNFY|NOT-OURS", "amount": "5.00"})
    reversal = db.session.scalar(select(TopUpReversal))
    assert reversal is not None and reversal.needs_attention and reversal.topup_id is None
    assert reversal.transaction_id is None
    assert balances_on_dashboard(ada) == ("₦120,000.00", "₦120,000.00")
    assert_ledger_ok()


def test_unknown_bank_event_is_kept_and_flagged_for_the_back_office(ctx, register, web, admin):  # type: ignore[no-untyped-def]
    post(web, "SETTLEMENT_ADJUSTMENT", {"transactionReference": "MNFY|99", "amount": "10.00"})
    event = db.session.scalar(select(WebhookEvent))
    assert event.event_type == "SETTLEMENT_ADJUSTMENT" and event.outcome == "unhandled"
    assert attention_count(admin().get("/admin"), "Provider events not understood") == 1


def test_a_reversal_racing_a_transfer_out_never_lets_both_spend_the_money(app, ctx, register, web):  # type: ignore[no-untyped-def]
    from lumipay.bank.reversals import TopUpReversal
    from lumipay.ledger import receivables
    from tests.integration.test_card_clearing_rules import _at_once
    from tests.integration.test_transfers import step_one

    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    credited_top_up(web, ada)
    set_tier(ada.email, 3)
    confirm = step_one(ada, bayo.account_number, "110,000")
    assert confirm.status_int == 200, confirm.text
    outcomes: list[int] = []
    raw, headers = bank_delivery(*REVERSALS["reversed transaction"])

    def transfer() -> None:
        outcomes.append(confirm.forms["confirm-form"].submit(expect_errors=True).status_int)

    def reversal() -> None:
        with app.app_context():
            assert web.post(WEBHOOK, raw, headers=headers).status_int == 200

    _at_once(transfer, reversal)
    db.session.expire_all()
    record = db.session.scalar(select(TopUpReversal))
    assert record.covered + record.owed == 2_000_000
    w = wallet(ada)
    if outcomes == [303]:  # the transfer went first: ₦10,000 was left to take back
        assert (record.owed, w.balance) == (1_000_000, 0)
    else:  # the reversal went first: the transfer found only ₦100,000
        assert (record.owed, w.balance) == (0, 10_000_000)
    assert w.held == 0 and receivables.owed(w.user_id, "NGN") == record.owed
    assert_ledger_ok()


def test_the_back_office_sees_the_reversal_and_what_the_customer_owes(ctx, register, web, admin):  # type: ignore[no-untyped-def]
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    credited_top_up(web, ada)
    set_tier(ada.email, 3)
    send(ada, bayo.account_number, "105,000")
    post(web, *REVERSALS["chargeback"])
    staff = admin()
    assert attention_count(staff.get("/admin"), "Top-ups the provider took back") == 1
    page = staff.get(f"/admin/customers/{db.session.get(User, wallet(ada).user_id).public_id}")
    owed = page.html.find(id="customer-owed")
    assert owed is not None and "₦5,000.00" in owed.text
    reversals = page.html.find(id="customer-topup-reversals")
    assert reversals is not None and "chargeback" in reversals.text.lower()


def test_money_that_comes_in_later_repays_what_the_customer_owes(ctx, register, web):  # type: ignore[no-untyped-def]
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    credited_top_up(web, ada)
    set_tier(ada.email, 3)
    send(ada, bayo.account_number, "105,000")
    post(web, *REVERSALS["reversed transaction"])
    assert balances_on_dashboard(ada) == ("₦0.00", "₦0.00")
    reference = reference_in(start_topup(ada, "8,000", CHECKOUT))
    post(web, *payment_event(reference=reference, amount=800_000, ref="MNFY|20261201|TOPUP2"))
    from lumipay.ledger import receivables

    assert receivables.owed(wallet(ada).user_id, "NGN") == 0
    assert balances_on_dashboard(ada) == ("₦3,000.00", "₦3,000.00")
    assert "Money owed repaid" in ada.get("/notifications").text
    assert_ledger_ok()


def test_the_same_reversal_delivered_twice_at_once_takes_the_money_back_once(
    app, ctx, register, web
):  # type: ignore[no-untyped-def]
    from tests.integration.test_card_clearing_rules import _at_once

    ada = register("Ada Obi")
    credited_top_up(web, ada)
    deliveries = [bank_delivery(*REVERSALS["chargeback"]) for _ in range(3)]

    def deliver(raw: bytes, headers: dict):  # type: ignore[no-untyped-def]
        def call() -> None:
            with app.app_context():
                assert web.post(WEBHOOK, raw, headers=headers).status_int == 200

        return call

    _at_once(*(deliver(raw, headers) for raw, headers in deliveries))
    db.session.expire_all()
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert system_balance("moniepoint_clearing:NGN") == 0
    from lumipay.bank.reversals import TopUpReversal

    assert len(db.session.scalars(select(TopUpReversal)).all()) == 1
    assert_ledger_ok()


def test_a_top_up_credit_racing_a_transfer_into_the_wallet_takes_its_locks_in_one_order(
    ctx, register, web, monkeypatch
):  # type: ignore[no-untyped-def]
    """The credit locks the top-up, then the wallet, then the customer (DESIGN rule 8), like a
    transfer does: a transfer into the same wallet that arrives while the credit checks the
    maximum balance waits for it instead of deadlocking with it."""
    from lumipay import database
    from lumipay.audit.service import SYSTEM
    from lumipay.ledger import service as ledger
    from lumipay.transfers import service as transfers
    from tests.integration.helpers.interleave import run_other_at

    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    reference = reference_in(start_topup(ada, "20,000", CHECKOUT))
    bayo_wallet = wallet(bayo).id
    retried: list[str] = []
    seen = database.is_retryable

    def spy(exc: BaseException) -> bool:
        if seen(exc):
            retried.append(type(exc).__name__)
        return seen(exc)

    monkeypatch.setattr(database, "is_retryable", spy)

    def bayo_pays_ada() -> None:
        transfers.send_transfer(
            wallet(bayo).user_id, bayo_wallet, ada.account_number, 100_000, "rent",
            idempotency_key=uuid.uuid4().hex, origin=SYSTEM,
        )  # fmt: skip

    # The transfer starts while the credit weighs the maximum balance, under its locks.
    other = run_other_at(monkeypatch, ledger, "limits_refusal", bayo_pays_ada)
    post(web, *payment_event(reference=reference, amount=2_000_000, ref=PROVIDER_REF))
    other.join()

    assert retried == [], "the credit and the transfer deadlocked"
    assert topup(reference).status == "credited"
    assert wallet(ada).balance == 10_000_000 + 2_000_000 + 100_000
    assert_ledger_ok()
