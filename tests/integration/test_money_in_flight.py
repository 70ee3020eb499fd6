"""Money in flight has one owner (issue 16): races between settlement, expiry, approvals and
the provider, driven on PostgreSQL through the real services. Each race is a deterministic
interleaving (tests/integration/helpers/interleave.py): the second transaction runs at the
moment the first has read what it acts on, and either finishes or waits on the first's locks."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import String, cast, func, select, update

from lumipay.accounts import freeze
from lumipay.accounts.service import wallets_for
from lumipay.audit.service import SYSTEM
from lumipay.auth import service as auth
from lumipay.auth.models import User
from lumipay.bank import jobs as bank_jobs
from lumipay.bank import service as bank
from lumipay.bank.models import Payout, TopUp
from lumipay.bills import jobs as bills_jobs
from lumipay.bills import service as bills
from lumipay.bills.models import BillPayment
from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.jobs import outbox
from lumipay.jobs.models import OutboxMessage
from lumipay.ledger import service as ledger
from lumipay.ledger.models import Hold, LedgerTransaction
from lumipay.providers.bank import Payment, PayoutResult
from lumipay.providers.bills import BillResult, Outcome
from lumipay.settlements import service as settlements
from lumipay.settlements.models import MARK_FAILED, MARK_SUCCEEDED, SettlementProposal
from tests.conftest import PASSWORD, set_tier, unique_details
from tests.integration.helpers.bank import (
    reference_in,
    request_payout,
    start_topup,
    use_sandbox_bank,
)
from tests.integration.helpers.bills import SECRET
from tests.integration.helpers.interleave import run_other_at
from tests.integration.helpers.ledger import assert_ledger_ok
from tests.integration.test_bills import bill_of, buy_airtime


@pytest.fixture(autouse=True)
def providers(app, redis_clean, monkeypatch):  # type: ignore[no-untyped-def]
    """Sandbox bills and bank; jobs go to Redis and stay there, so the test decides what runs."""
    use_sandbox_bank(app, monkeypatch, approval_threshold=50_000)
    monkeypatch.setitem(app.config, "BILLS_REQUERY_BACKOFF", [0])
    monkeypatch.setitem(app.config, "PAYOUT_REQUERY_BACKOFF", [0])
    monkeypatch.setitem(app.config, "BILLS_FEES", {"airtime": 0, "data": 0, "electricity": 0})
    monkeypatch.setitem(
        app.config,
        "BILLS_PROVIDERS",
        {"airtime": "sandbox", "data": "sandbox", "electricity": "sandbox"},
    )
    assert app.config["WEBHOOK_SECRETS"]["bills"] == SECRET


def admins() -> tuple[int, int]:
    """Two admins: a maker and a checker."""
    made = []
    for name in ("Maker Admin", "Checker Admin"):
        details = unique_details(name)
        made.append(auth.create_admin(name, details["email"], details["phone"], PASSWORD).id)
    return made[0], made[1]


def user_id(customer) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(User.id).where(User.email == customer.email))


def hold_of(hold_id: int) -> Hold:
    db.session.expire_all()
    return db.session.get(Hold, hold_id)


def expire_now(hold_id: int) -> None:
    """Put the hold's expiry in the past (its time is up) and commit."""
    db.session.execute(
        update(Hold).where(Hold.id == hold_id).values(expires_at=Hold.created_at - timedelta(1))
    )
    db.session.commit()


def expire_holds() -> int:
    return run_in_transaction(ledger.expire_holds)


def submits_of(reference: str) -> int:
    return db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.func.like("%submit_payout"),
            cast(OutboxMessage.args, String).contains(reference),
        )
    )


def awaiting_payout(customer) -> Payout:  # type: ignore[no-untyped-def]
    """A ₦1,000 payout above the approval threshold: held, waiting for an admin."""
    reference = reference_in(request_payout(customer, "0123456789", "1,000"))
    db.session.expire_all()
    payout = db.session.scalar(select(Payout).where(Payout.reference == reference))
    assert payout.status == "awaiting_approval"
    return payout


def test_mark_succeeded_approved_while_expiry_runs_captures_the_hold_or_refuses(
    ctx, register, monkeypatch
):  # type: ignore[no-untyped-def]
    """Case 1: a "mark succeeded" settlement approved while hold expiry runs on that bill's
    hold never ends with a succeeded bill, an approved proposal and nothing captured."""
    ada = register("Ada Obi")
    bill = bill_of(buy_airtime(ada, "08031234567", "1000"))
    maker, checker = admins()
    proposal_id = settlements.propose(
        admin_id=maker,
        action=MARK_SUCCEEDED,
        reason="Provider portal shows the airtime delivered.",
        origin=SYSTEM,
        bill_reference=bill.reference,
    )
    expire_now(bill.hold_id)
    # Expiry runs at the moment the approval has read the hold and is about to capture it.
    other = run_other_at(monkeypatch, ledger, "capture_hold", expire_holds)

    with contextlib.suppress(settlements.SettlementError):
        settlements.decide(
            proposal_id, admin_id=checker, approve=True, note="Checked.", origin=SYSTEM
        )
    other.join()

    db.session.expire_all()
    settled = db.session.get(BillPayment, bill.id)
    proposal = db.session.get(SettlementProposal, proposal_id)
    hold = hold_of(bill.hold_id)
    if settled.status == "succeeded":
        assert hold.status == "captured", "a bill marked succeeded with nothing captured"
        assert proposal.status == "approved" and proposal.transaction_id == settled.transaction_id
        assert settled.transaction_id is not None
    else:
        assert proposal.status == "pending" and hold.status != "captured"
    assert_ledger_ok()


def test_mark_failed_proposed_while_processing_is_refused_after_the_provider_delivered(
    ctx, register
):  # type: ignore[no-untyped-def]
    """Case 2: the proposal records the state it expects; the webhook captured the bill
    meanwhile, so approving "mark failed" is refused, naming what changed, and refunds nothing."""
    ada = register("Ada Obi")
    bill = bill_of(buy_airtime(ada, "08031234567", "1000"))
    maker, checker = admins()
    proposal_id = settlements.propose(
        admin_id=maker,
        action=MARK_FAILED,
        reason="Looks stuck at the provider, refund it.",
        origin=SYSTEM,
        bill_reference=bill.reference,
    )
    assert bills.apply_result(bill.reference, BillResult(Outcome.SUCCEEDED)) == "succeeded"

    with pytest.raises(settlements.SettlementError) as refused:
        settlements.decide(
            proposal_id, admin_id=checker, approve=True, note="Checked.", origin=SYSTEM
        )

    assert "processing" in refused.value.message and "succeeded" in refused.value.message
    db.session.expire_all()
    assert db.session.get(SettlementProposal, proposal_id).status == "pending"
    refunds = db.session.scalar(
        select(func.count(LedgerTransaction.id)).where(LedgerTransaction.kind == "bill_refund")
    )
    assert refunds == 0
    assert db.session.get(BillPayment, bill.id).status == "succeeded"
    assert hold_of(bill.hold_id).status == "captured"
    assert_ledger_ok()


def test_payout_awaiting_approval_is_refused_once_the_customer_is_frozen(ctx, register):  # type: ignore[no-untyped-def]
    """Case 3: approval re-checks the customer at approval time: frozen means nothing is sent."""
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    payout = awaiting_payout(ada)
    maker, checker = admins()
    freeze.freeze(user_id(ada), "Suspicious activity", admin_id=maker, origin=SYSTEM)

    with pytest.raises(bank.BankError) as refused:
        bank.approve_payout(checker, payout.reference, origin=SYSTEM)

    assert "frozen" in refused.value.message
    db.session.expire_all()
    assert db.session.get(Payout, payout.id).status == "awaiting_approval"
    assert hold_of(payout.hold_id).status == "active"
    assert submits_of(payout.reference) == 0
    assert_ledger_ok()


def test_a_payout_queued_before_a_freeze_is_not_sent_after_it(ctx, register):  # type: ignore[no-untyped-def]
    """Under the approval threshold a payout goes to the bank by a job; a freeze between the
    request and the job ends it at the job: nothing is sent and the hold comes back."""
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    before = wallet_balance(ada)
    reference = reference_in(request_payout(ada, "0123456789", "100"))
    db.session.expire_all()
    queued = db.session.scalar(select(Payout).where(Payout.reference == reference))
    assert queued.status == "processing" and submits_of(reference) == 1
    maker, _ = admins()
    freeze.freeze(user_id(ada), "Suspicious activity", admin_id=maker, origin=SYSTEM)

    assert bank_jobs.submit_payout(reference) == "failed"

    db.session.expire_all()
    after = db.session.get(Payout, queued.id)
    assert after.status == "failed" and after.submitted_at is None
    assert after.provider_reference is None
    assert hold_of(after.hold_id).status == "released"
    assert wallet_balance(ada) == before
    assert_ledger_ok()


def test_a_bill_queued_before_a_freeze_is_not_sent_after_it(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    before = wallet_balance(ada)
    bill = bill_of(buy_airtime(ada, "08031234567", "1000"))
    assert bill.status == "processing" and bill.submitted_at is None
    maker, _ = admins()
    freeze.freeze(user_id(ada), "Suspicious activity", admin_id=maker, origin=SYSTEM)

    assert bills_jobs.submit_bill(bill.reference) == "failed"

    db.session.expire_all()
    after = db.session.get(BillPayment, bill.id)
    assert after.status == "failed" and after.submitted_at is None
    assert hold_of(after.hold_id).status == "released"
    assert wallet_balance(ada) == before
    assert_ledger_ok()


def wallet_balance(customer) -> int:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return next(w.balance for w in wallets_for(user_id(customer)) if w.currency == "NGN")


def test_payout_approval_racing_hold_expiry_never_sends_an_expired_hold(ctx, register, monkeypatch):  # type: ignore[no-untyped-def]
    """Case 4: approval and hold expiry at once: either the payout goes out on an active hold,
    or it ends (expired, nothing sent) and the approval is refused."""
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    payout = awaiting_payout(ada)
    _, checker = admins()
    expire_now(payout.hold_id)
    # Expiry runs once the approval has looked at the hold and is about to queue the payout.
    other = run_other_at(monkeypatch, outbox, "add", expire_holds)

    with contextlib.suppress(bank.BankError):
        bank.approve_payout(checker, payout.reference, origin=SYSTEM)
    other.join()

    db.session.expire_all()
    after = db.session.get(Payout, payout.id)
    hold = hold_of(payout.hold_id)
    if after.status == "processing" or submits_of(payout.reference):
        assert hold.status == "active", "a payout sent on a hold that expired"
    else:
        assert after.status == "rejected" and hold.status == "expired"
        assert "expired" in (after.rejection_reason or "")
    assert_ledger_ok()


def test_expiry_keeps_holds_at_the_provider_and_flags_them_after_the_stuck_time(
    ctx, register, app, monkeypatch
):  # type: ignore[no-untyped-def]
    """Case 5: a bill and a payout at the provider with no answer keep their holds past the
    hold's expiry; the sweeps requery them and flag them for a person after the configured
    time; when the provider then succeeds, the money is captured (not already spent)."""
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    monkeypatch.setitem(app.config, "PAYOUT_APPROVAL_THRESHOLD", 10_000_000)
    bill = bill_of(buy_airtime(ada, "08031234567", "1000"))
    assert (
        bills.apply_result(bill.reference, BillResult(Outcome.PENDING), schedule_requery=True)
        == "processing"
    )
    reference = reference_in(request_payout(ada, "0123456789", "1,000"))
    db.session.expire_all()
    payout = db.session.scalar(select(Payout).where(Payout.reference == reference))
    assert payout.status == "processing"
    assert (
        bank.apply_result(reference, PayoutResult(Outcome.PENDING), schedule_requery=True)
        == "processing"
    )
    expire_now(bill.hold_id)
    expire_now(payout.hold_id)

    expire_holds()

    assert hold_of(bill.hold_id).status == "active"
    assert hold_of(payout.hold_id).status == "active"
    monkeypatch.setitem(app.config, "BILLS_STUCK_AFTER", 0)
    monkeypatch.setitem(app.config, "PAYOUT_STUCK_AFTER", 0)
    db.session.execute(
        update(BillPayment).values(created_at=BillPayment.created_at - timedelta(minutes=5))
    )
    db.session.execute(update(Payout).values(created_at=Payout.created_at - timedelta(minutes=5)))
    db.session.commit()
    bills.sweep()
    bank.sweep()
    db.session.expire_all()
    assert db.session.get(BillPayment, bill.id).needs_attention is True
    assert db.session.get(Payout, payout.id).needs_attention is True

    assert bills.apply_result(bill.reference, BillResult(Outcome.SUCCEEDED)) == "succeeded"
    assert bank.apply_result(reference, PayoutResult(Outcome.SUCCEEDED)) == "succeeded"
    assert hold_of(bill.hold_id).status == "captured"
    assert hold_of(payout.hold_id).status == "captured"
    assert_ledger_ok()


def decide(proposal_id: int, checker: int) -> SettlementProposal:
    settlements.decide(proposal_id, admin_id=checker, approve=True, note="Checked.", origin=SYSTEM)
    db.session.expire_all()
    return db.session.get(SettlementProposal, proposal_id)


def test_a_stuck_payout_is_settled_by_maker_checker_like_a_bill(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    """Item 6: a payout stuck at the provider is worked on the settlements page under the same
    rules: a proposal by one admin, approval by another, re-checked at approval."""
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    monkeypatch.setitem(app.config, "PAYOUT_APPROVAL_THRESHOLD", 10_000_000)
    reference = reference_in(request_payout(ada, "0123456789", "1,000"))
    maker, checker = admins()
    proposal_id = settlements.propose(
        admin_id=maker,
        action=MARK_SUCCEEDED,
        reason="Bank statement shows the transfer left.",
        origin=SYSTEM,
        bill_reference=reference,
    )
    with pytest.raises(settlements.SettlementError, match="different admin"):
        settlements.decide(proposal_id, admin_id=maker, approve=True, note="", origin=SYSTEM)

    approved = decide(proposal_id, checker)

    paid = db.session.scalar(select(Payout).where(Payout.reference == reference))
    assert approved.status == "approved" and approved.expected_status == "processing"
    assert paid.status == "succeeded" and approved.transaction_id == paid.transaction_id
    assert hold_of(paid.hold_id).status == "captured"
    assert bank.apply_result(reference, PayoutResult(Outcome.SUCCEEDED)) == "succeeded"
    again = settlements.propose(
        admin_id=maker,
        action=MARK_FAILED,
        reason="The bank returned it after all.",
        origin=SYSTEM,
        bill_reference=reference,
    )
    refunded = decide(again, checker)
    assert refunded.status == "approved" and refunded.transaction_id is not None
    assert db.session.get(LedgerTransaction, refunded.transaction_id).kind == "payout_refund"
    assert_ledger_ok()


def uncredited_topup(customer) -> TopUp:  # type: ignore[no-untyped-def]
    """₦250,000 paid for a ₦1,000 checkout top-up on Tier 1: past the maximum balance, so it
    arrives uncredited."""
    response = start_topup(customer, "1,000", "moniepoint:checkout")
    assert response.status_int == 303, response.text
    reference = reference_in(response)
    run_in_transaction(
        lambda: bank.credit_payment(
            "moniepoint",
            Payment(f"T-{reference}", 25_000_000, "NGN", reference=reference),
        )
    )
    db.session.expire_all()
    topup = db.session.scalar(select(TopUp).where(TopUp.reference == reference))
    assert topup.status == "uncredited"
    return topup


def test_an_uncredited_top_up_is_credited_by_maker_checker_once_the_limits_allow(ctx, register):  # type: ignore[no-untyped-def]
    """Item 6: money that arrived uncredited is credited by hand, and approval re-checks the
    customer's maximum balance then (the one enforcement in lumipay.kyc.limits)."""
    ada = register("Ada Obi")
    topup = uncredited_topup(ada)
    maker, checker = admins()
    proposal_id = settlements.propose(
        admin_id=maker,
        action=MARK_SUCCEEDED,
        reason="Customer verified by phone, credit it.",
        origin=SYSTEM,
        bill_reference=topup.reference,
    )
    with pytest.raises(settlements.SettlementError, match="maximum"):
        decide(proposal_id, checker)
    set_tier(ada.email, 3)

    approved = decide(proposal_id, checker)

    credited = db.session.get(TopUp, topup.id)
    assert approved.status == "approved" and credited.status == "credited"
    assert credited.transaction_id == approved.transaction_id
    assert db.session.get(LedgerTransaction, approved.transaction_id).kind == "bank_topup"
    with pytest.raises(settlements.SettlementError, match="nothing to settle"):
        settlements.propose(
            admin_id=maker,
            action=MARK_FAILED,
            reason="Second thoughts about this one.",
            origin=SYSTEM,
            bill_reference=topup.reference,
        )
    assert_ledger_ok()


def test_an_uncredited_top_up_returned_by_maker_checker_moves_no_money(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    topup = uncredited_topup(ada)
    maker, checker = admins()
    before = db.session.scalar(select(func.count(LedgerTransaction.id)))
    proposal_id = settlements.propose(
        admin_id=maker,
        action=MARK_FAILED,
        reason="Payer asked for it back.",
        origin=SYSTEM,
        bill_reference=topup.reference,
    )
    approved = decide(proposal_id, checker)
    assert approved.status == "approved" and approved.transaction_id is None
    assert db.session.get(TopUp, topup.id).status == "returned"
    assert db.session.scalar(select(func.count(LedgerTransaction.id))) == before
    assert_ledger_ok()


SECRET_REASON = "INTERNAL-7731 fraud desk says so"


def test_the_customer_never_sees_a_settlements_internal_reason(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    """Item 7: every posting a settlement makes (adjustment, bill capture, bill refund, payout
    capture, top-up credit) shows the customer a customer-facing narration; the admin's
    reason stays in the back office."""
    ada = register("Ada Obi")
    topup = uncredited_topup(ada)
    set_tier(ada.email, 3)
    monkeypatch.setitem(app.config, "PAYOUT_APPROVAL_THRESHOLD", 10_000_000)
    bill = bill_of(buy_airtime(ada, "08031234567", "1000"))
    payout_reference = reference_in(request_payout(ada, "0123456789", "1,000"))
    account_number = ada.account_number
    maker, checker = admins()
    proposals = [
        settlements.propose(
            admin_id=maker,
            action="adjustment",
            reason=SECRET_REASON,
            origin=SYSTEM,
            debit="bonus_funding:NGN",
            credit=account_number,
            amount=150_000,
            narration="Goodwill credit from Lumipay",
        ),
        *(
            settlements.propose(
                admin_id=maker,
                action=MARK_SUCCEEDED,
                reason=SECRET_REASON,
                origin=SYSTEM,
                bill_reference=reference,
            )
            for reference in (bill.reference, payout_reference, topup.reference)
        ),
    ]
    for proposal_id in proposals:
        assert decide(proposal_id, checker).status == "approved"
    refund = settlements.propose(
        admin_id=maker,
        action=MARK_FAILED,
        reason=SECRET_REASON,
        origin=SYSTEM,
        bill_reference=bill.reference,
    )
    assert decide(refund, checker).status == "approved"

    narrations = db.session.scalars(select(LedgerTransaction.narration)).all()
    assert "Goodwill credit from Lumipay" in narrations
    assert not [n for n in narrations if "INTERNAL-7731" in n]
    seen = [ada.get("/dashboard/history").text, ada.get("/notifications").text]
    for proposal_id in [*proposals, refund]:
        txn_id = db.session.get(SettlementProposal, proposal_id).transaction_id
        if txn_id is not None:
            txn = db.session.get(LedgerTransaction, txn_id)
            seen.append(ada.get(f"/transactions/{txn.reference}").text)
    assert all("INTERNAL-7731" not in page for page in seen)
    assert "Goodwill credit from Lumipay" in seen[0]
    assert_ledger_ok()


def test_payout_approval_rechecks_the_kyc_limits_at_approval_time(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    """Item 5: the limits are those at approval time, through the one enforcement
    (lumipay.kyc.limits): a per-transaction limit lowered meanwhile, or a tier taken away,
    refuses the approval and changes nothing; its own hold is not counted twice."""
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    payout = awaiting_payout(ada)
    _, checker = admins()
    limits = {tier: dict(values) for tier, values in app.config["KYC_LIMITS"].items()}
    monkeypatch.setitem(app.config, "KYC_LIMITS", limits)
    limits[2]["TRANSACTION_LIMIT"] = payout.total - 1
    with pytest.raises(bank.BankError, match="per transaction"):
        bank.approve_payout(checker, payout.reference, origin=SYSTEM)
    limits[2]["TRANSACTION_LIMIT"] = payout.total
    limits[2]["DAILY_LIMIT"] = payout.total  # exactly its own hold: still allowed
    set_tier(ada.email, 1)
    with pytest.raises(bank.BankError, match="Tier 2"):
        bank.approve_payout(checker, payout.reference, origin=SYSTEM)
    db.session.expire_all()
    assert db.session.get(Payout, payout.id).status == "awaiting_approval"
    set_tier(ada.email, 2)

    assert bank.approve_payout(checker, payout.reference, origin=SYSTEM).status == "processing"
    assert submits_of(payout.reference) == 1
    assert_ledger_ok()
