"""Use cases: propose a manual settlement, and approve or reject it as a different admin.

Every stuck kind can be settled by hand: a bill or a payout (through the held-operation engine:
capture, release or refund, under its lock order), a top-up left uncredited (credited, or
returned to the payer), or an adjustment between named accounts. A proposal records the state
its item was in; approval re-checks it under the item's locks and is refused, naming what
changed, when it moved. Approval posts in one transaction with the decision and its audit row,
under a reference that the proposal keeps. A refusal changes nothing.

The admin's reason is internal: the customer's history shows the item's own narration, or for
an adjustment the proposal's customer-facing `narration`, never the reason.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import String, cast, func, select, tuple_
from sqlalchemy.orm import aliased

from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth.models import User
from lumipay.bank import service as bank
from lumipay.bank.models import TOPUP_UNCREDITED, Payout, TopUp
from lumipay.bills import service as bills
from lumipay.bills.models import PROCESSING, SUCCEEDED, BillPayment
from lumipay.database import locked, run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.inflight import engine
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import InsufficientFunds, LedgerError
from lumipay.ledger.models import WALLET, Account, LedgerTransaction
from lumipay.ledger.references import new_reference
from lumipay.money import CURRENCIES, format_amount
from lumipay.reconciliation import service as reconciliation
from lumipay.reconciliation.models import (
    COMPLETED,
    EXCEPTIONS,
    ReconciliationItem,
    ReconciliationRun,
)
from lumipay.refusals import Refused
from lumipay.settlements.models import (
    ACTIONS,
    ADJUSTMENT,
    APPROVED,
    MARK_FAILED,
    MARK_SUCCEEDED,
    PENDING,
    REJECTED,
    SettlementProposal,
)

ADJUSTMENT_KIND = "adjustment"
ADJUSTMENT_NARRATION = "Correction by Lumipay"
Subject = BillPayment | Payout | TopUp


class SettlementError(Refused):
    """A settlement proposal or decision refused; `field` names the form field it belongs to."""


def _audit(
    action: str, proposal: SettlementProposal, admin_id: int, origin: Origin, **details: Any
) -> None:
    """A proposal's audit row: its subject is `settlement:<id>`, whichever admin acts on it."""
    audit.record(action, origin, actor_id=admin_id, subject=f"settlement:{proposal.id}", **details)


def _admin(admin_id: int) -> User:
    user = db.session.get(User, admin_id)
    if user is None or not user.is_admin:
        raise SettlementError(None, "Only an admin can do this.")
    return user


def resolve_account(text: str, currency: str, field: str) -> Account:
    """A system account by its code (e.g. bills_clearing:NGN) or a customer's wallet in
    `currency` by their 10-digit account number."""
    name = (text or "").strip()
    if re.fullmatch(r"\d{10}", name):
        account = db.session.scalar(
            select(Account)
            .join(User, User.id == Account.user_id)
            .where(
                User.account_number == name,
                Account.kind == WALLET,
                Account.currency == currency,
            )
        )
        if account is None:
            raise SettlementError(field, f"No {currency} wallet for account number {name}.")
        return account
    account = db.session.scalar(select(Account).where(Account.code == name))
    if account is None:
        raise SettlementError(
            field, "Name a system account (e.g. bills_clearing:NGN) or an account number."
        )
    if account.currency != currency:
        raise SettlementError(field, f"{name} is in {account.currency}, not {currency}.")
    return account


def find_bill(reference: str) -> BillPayment | None:
    text = (reference or "").strip()
    if not text:
        return None
    return db.session.scalar(
        select(BillPayment).where(
            (BillPayment.reference == text) | (BillPayment.request_id == text)
        )
    )


def find_subject(reference: str) -> Subject | None:
    """The bill (by reference or request id), payout or top-up a reference names."""
    text = (reference or "").strip()
    if not text:
        return None
    bill = find_bill(text)
    if bill is not None:
        return bill
    payout = db.session.scalar(select(Payout).where(Payout.reference == text))
    if payout is not None:
        return payout
    return db.session.scalar(select(TopUp).where(TopUp.reference == text))


def subject_of(proposal: SettlementProposal) -> Subject | None:
    """The bill, payout or top-up a proposal settles; None for an adjustment."""
    if proposal.bill_id:
        return db.session.get(BillPayment, proposal.bill_id)
    if proposal.payout_id:
        return db.session.get(Payout, proposal.payout_id)
    if proposal.topup_id:
        return db.session.get(TopUp, proposal.topup_id)
    return None


def propose(
    *,
    admin_id: int,
    action: str,
    reason: str,
    origin: Origin,
    bill_reference: str = "",
    item_id: int | None = None,
    debit: str = "",
    credit: str = "",
    amount: int | None = None,
    currency: str = "NGN",
    narration: str = "",
) -> int:
    """Record a proposal (nothing moves yet); returns its id.

    `bill_reference` names the bill, payout or top-up; its status now is what approval will
    expect. `narration` is what the customer sees for an adjustment (never the reason)."""
    why = (reason or "").strip()
    if action not in ACTIONS:
        raise SettlementError("action", "Choose what should happen.")
    if len(why) < 10:
        raise SettlementError("reason", "Explain the reason (at least 10 characters).")

    def work() -> int:
        _admin(admin_id)
        item = db.session.get(ReconciliationItem, item_id) if item_id else None
        if item_id and (item is None or not item.is_exception):
            raise SettlementError(None, "That reconciliation item is not an exception.")
        proposal = SettlementProposal(
            action=action,
            status=PENDING,
            item_id=item.id if item else None,
            reason=why[:500],
            narration=" ".join((narration or "").split())[:140],
            proposed_by=admin_id,
            proposed_at=utcnow(),
        )
        if action == ADJUSTMENT:
            _check_adjustment(proposal, debit, credit, amount, currency)
        else:
            subject = find_subject(bill_reference or (item.reference if item else "") or "")
            if subject is None:
                raise SettlementError(
                    "bill_reference", "No bill, payout or top-up with that reference."
                )
            _check_action(action, subject)
            proposal.expected_status = subject.status
            if isinstance(subject, BillPayment):
                proposal.bill_id = subject.id
            elif isinstance(subject, Payout):
                proposal.payout_id = subject.id
            else:
                proposal.topup_id = subject.id
        db.session.add(proposal)
        db.session.flush()
        _audit(
            "settlement.propose",
            proposal,
            admin_id,
            origin,
            resolution=action,
            bill_id=proposal.bill_id,
            payout_id=proposal.payout_id,
            topup_id=proposal.topup_id,
            expected_status=proposal.expected_status,
            item_id=proposal.item_id,
            amount=proposal.amount,
            currency=proposal.currency,
            reason=proposal.reason,
        )
        return proposal.id

    return run_in_transaction(work)


def _check_action(action: str, subject: Subject) -> None:
    what = "top-up" if isinstance(subject, TopUp) else subject.WHAT
    if isinstance(subject, TopUp):
        if subject.status != TOPUP_UNCREDITED:
            raise SettlementError("action", f"This top-up is {subject.status}: nothing to settle.")
    elif (action == MARK_SUCCEEDED and subject.status != PROCESSING) or (
        action == MARK_FAILED and subject.status not in (PROCESSING, SUCCEEDED)
    ):
        raise SettlementError("action", f"This {what} is already {subject.status}.")
    column = {
        BillPayment: SettlementProposal.bill_id,
        Payout: SettlementProposal.payout_id,
        TopUp: SettlementProposal.topup_id,
    }[type(subject)]
    waiting = db.session.scalar(
        select(SettlementProposal.id).where(
            column == subject.id, SettlementProposal.status == PENDING
        )
    )
    if waiting is not None:
        raise SettlementError(None, f"Settlement #{waiting} for this {what} awaits a decision.")


def _check_adjustment(
    proposal: SettlementProposal, debit: str, credit: str, amount: int | None, currency: str
) -> None:
    if currency not in CURRENCIES:
        raise SettlementError("currency", "Choose a currency.")
    if amount is None or amount <= 0:
        raise SettlementError("amount", "Enter an amount above zero.")
    from_account = resolve_account(debit, currency, "debit")
    to_account = resolve_account(credit, currency, "credit")
    if from_account.id == to_account.id:
        raise SettlementError("credit", "Debit and credit must be different accounts.")
    if from_account.is_wallet and from_account.available < amount:
        raise SettlementError(
            "amount",
            f"That wallet has {format_amount(from_account.available, currency)} available.",
        )
    proposal.debit_account_id = from_account.id
    proposal.credit_account_id = to_account.id
    proposal.amount = amount
    proposal.currency = currency


def decide(
    proposal_id: int, *, admin_id: int, approve: bool, note: str, origin: Origin
) -> SettlementProposal:
    """Approve (and post) or reject a proposal; never by the admin who proposed it."""

    def work() -> SettlementProposal:
        _admin(admin_id)
        proposal = locked(SettlementProposal, SettlementProposal.id == proposal_id)
        if proposal is None:
            raise SettlementError(None, "No such settlement.")
        if proposal.proposed_by == admin_id:
            raise SettlementError(
                None, "You proposed this settlement: a different admin must approve or reject it."
            )
        if proposal.status != PENDING:
            raise SettlementError(None, f"This settlement was {proposal.status} already.")
        proposal.move_to(APPROVED if approve else REJECTED)
        proposal.decided_by = admin_id
        proposal.decided_at = utcnow()
        proposal.decision_note = (note or "").strip()[:500]
        txn = _post(proposal) if approve else None
        proposal.transaction_id = txn.id if txn else None
        db.session.flush()
        _audit(
            "settlement.approve" if approve else "settlement.reject",
            proposal,
            admin_id,
            origin,
            proposed_by=proposal.proposed_by,
            resolution=proposal.action,
            transaction=txn.reference if txn else None,
            note=proposal.decision_note,
        )
        return proposal

    return run_in_transaction(work)


def _post(proposal: SettlementProposal) -> LedgerTransaction | None:
    """Post an approved proposal; SettlementError (nothing posted) when it can't be."""
    reference = new_reference("MS")
    if proposal.action == ADJUSTMENT:
        assert proposal.debit_account_id and proposal.credit_account_id and proposal.amount
        try:
            return ledger.post(
                ADJUSTMENT_KIND,
                [
                    ledger.Leg(proposal.debit_account_id, -proposal.amount),
                    ledger.Leg(proposal.credit_account_id, proposal.amount),
                ],
                narration=proposal.narration or ADJUSTMENT_NARRATION,
                reference=reference,
            )
        except InsufficientFunds as exc:
            raise SettlementError(None, f"Not posted: {exc.message}") from None
        except LedgerError as exc:
            raise SettlementError(None, f"Not posted: {exc}") from None
    subject = subject_of(proposal)
    assert subject is not None and proposal.expected_status is not None
    succeeded = proposal.action == MARK_SUCCEEDED
    try:
        if isinstance(subject, BillPayment | Payout):
            # A held operation: its kind's engine settles it (capture or release its hold).
            held = (
                bills.settle_by_hand
                if isinstance(subject, BillPayment)
                else bank.settle_payout_by_hand
            )
            return held(
                subject.reference,
                expected=proposal.expected_status,
                succeeded=succeeded,
                ledger_reference=reference,
            )
        return bank.settle_topup_by_hand(
            subject.reference,
            expected=proposal.expected_status,
            credit=succeeded,
            ledger_reference=reference,
        )
    except engine.Refused as exc:
        raise SettlementError(None, f"Not posted: {exc.message}") from None


# --- reading ------------------------------------------------------------------------------


def pending() -> list[SettlementProposal]:
    return list(
        db.session.scalars(
            select(SettlementProposal)
            .where(SettlementProposal.status == PENDING)
            .order_by(SettlementProposal.id)
        )
    )


def decided(limit: int = 20) -> list[SettlementProposal]:
    return list(
        db.session.scalars(
            select(SettlementProposal)
            .where(SettlementProposal.status != PENDING)
            .order_by(SettlementProposal.decided_at.desc(), SettlementProposal.id.desc())
            .limit(limit)
        )
    )


def pending_count() -> int:
    return int(
        db.session.scalar(
            select(func.count(SettlementProposal.id)).where(SettlementProposal.status == PENDING)
        )
        or 0
    )


def for_transaction(transaction_id: int) -> SettlementProposal | None:
    return db.session.scalar(
        select(SettlementProposal).where(SettlementProposal.transaction_id == transaction_id)
    )


def open_exceptions() -> int:
    """Every exception no person has resolved yet (by an approved settlement), whatever runs
    came after it: a night's run covers its own day, so it never speaks for an earlier one.

    A day reconciled twice finds the same exception twice; it counts once, by what it is about
    (provider, kind, day and our reference or the provider's), and a settlement approved on
    either finding resolves it.
    """

    def identity(item: type[ReconciliationItem], run: type[ReconciliationRun]) -> tuple[Any, ...]:
        return (
            run.provider,
            item.kind,
            item.day,
            func.coalesce(item.reference, item.provider_ref, cast(item.id, String)),
        )

    found = aliased(ReconciliationItem)
    found_run = aliased(ReconciliationRun)
    resolved = (
        select(SettlementProposal.id)
        .join(found, found.id == SettlementProposal.item_id)
        .join(found_run, found_run.id == found.run_id)
        .where(
            SettlementProposal.status == APPROVED,
            tuple_(*identity(found, found_run))
            == tuple_(*identity(ReconciliationItem, ReconciliationRun)),
        )
        .exists()
    )
    still_open = (
        select(*identity(ReconciliationItem, ReconciliationRun))
        .join(ReconciliationRun, ReconciliationRun.id == ReconciliationItem.run_id)
        .where(
            ReconciliationRun.status == COMPLETED,
            ReconciliationItem.outcome.in_(EXCEPTIONS),
            ~resolved,
        )
        .distinct()
        .subquery()
    )
    return int(db.session.scalar(select(func.count()).select_from(still_open)) or 0)


def resolutions(item_ids: list[int]) -> dict[int, tuple[int, str]]:
    """item id -> (settlement id, its status), the latest proposal for each item."""
    if not item_ids:
        return {}
    rows = db.session.execute(
        select(SettlementProposal.item_id, SettlementProposal.id, SettlementProposal.status)
        .where(SettlementProposal.item_id.in_(item_ids))
        .order_by(SettlementProposal.id)
    )
    return {
        item_id: (proposal_id, status)
        for item_id, proposal_id, status in rows
        if item_id is not None  # the query asked for these item ids only
    }


reconciliation.use_resolutions(resolutions)
