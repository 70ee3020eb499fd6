"""The engine for money held for an operation: bills and payouts run on it.

An operation (a bill, a payout) is a business row and a ledger hold, placed in one transaction
with the provider call written to the outbox (`place`). After commit a job calls the provider
outside any transaction (`submit`); an unclear answer is requeried with backoff (`requery`);
a clear one settles (`settle_locked`): capture (the rest of the hold released in the same
posting when the provider settled less), or release. The periodic `sweep` requeues requeries
whose job was lost and flags operations stuck at the provider for a person. The ledger's hold
expiry hands each owner its holds (`expire`): a hold whose operation is at the provider never
ends by time; one waiting for a person's approval does, through its owner, which says why.

One lock order for every transition: the business row FOR UPDATE, then its hold, then the
wallet (lumipay.ledger), then the customer (lumipay.kyc.limits). Every transition re-reads its
rows under those locks and is a no-op, or a named refusal (`Refused`), when the state moved.

A product describes its operation with a `Kind` (what to call, where the money goes, what the
customer is told); it keeps only what is its own: the products, adapters and pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

from flask import current_app
from sqlalchemy import or_, select

from lumipay import database, refusals
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.inflight.models import AWAITING_APPROVAL, FAILED, PROCESSING, SUCCEEDED
from lumipay.jobs import outbox
from lumipay.kyc import limits
from lumipay.ledger import service as ledger
from lumipay.ledger.models import Account, Hold, HoldStatus, LedgerTransaction
from lumipay.providers import calls
from lumipay.providers.bills import Outcome
from lumipay.providers.resend import NOT_YET_KNOWN, requery_first

log = logging.getLogger(__name__)

FEES = "fees"
ACTIVE = "active"


class Refused(refusals.Refused):
    """A transition refused because the operation is no longer as the caller expected it;
    the message names what changed and can be shown to the admin or customer as it is."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(None, message, code=code)


class Kind:
    """One kind of held operation, as the engine needs to know it. A product subclasses it."""

    # The hold's owner (lumipay.ledger.service.HOLD_OWNERS); also the KYC movement kind
    # (lumipay.kyc.limits.MOVEMENT) and the stem of the fee and refund postings' kinds.
    owner: ClassVar[str]
    model: ClassVar[Any]  # a HeldOperation model
    queue: ClassVar[str]
    submit_job: ClassVar[str]
    requery_job: ClassVar[str]
    # Settings PREFIX_REQUERY_BACKOFF (seconds between requeries) and PREFIX_STUCK_AFTER
    # (seconds at the provider before a person is asked to look).
    settings_prefix: ClassVar[str]
    result_type: ClassVar[Callable[..., Any]]

    @property
    def backoff_setting(self) -> str:
        return f"{self.settings_prefix}_REQUERY_BACKOFF"

    @property
    def stuck_setting(self) -> str:
        return f"{self.settings_prefix}_STUCK_AFTER"

    @property
    def fee_kind(self) -> str:
        return f"{self.owner}_fee"

    @property
    def refund_kind(self) -> str:
        return f"{self.owner}_refund"

    # --- the provider ---------------------------------------------------------------------
    def adapter(self, op: Any) -> Any:
        """The provider adapter serving this operation (its retry window, its name)."""
        raise NotImplementedError

    def send(self, op: Any) -> Any:
        raise NotImplementedError

    def status(self, op: Any) -> Any:
        raise NotImplementedError

    # --- the money --------------------------------------------------------------------------
    def clearing(self, op: Any) -> Account:
        raise NotImplementedError

    def capture_kind(self, op: Any) -> str:
        raise NotImplementedError

    def narration(self, op: Any) -> str:
        """What the customer's history says for the capture."""
        raise NotImplementedError

    # --- what the customer is told ------------------------------------------------------------
    def succeeded(self, op: Any, result: Any) -> None:
        """Record the provider's delivery details and tell the customer."""

    def failed(self, op: Any, result: Any) -> None:
        """Tell the customer the money is back."""

    def refunded(self, op: Any) -> None:
        """Tell the customer a settled operation was refunded."""

    def expired(self, op: Any) -> None:
        """An operation awaiting approval ran out of time: move it to its final status and say
        why. Only kinds with an approval step have this."""
        raise NotImplementedError

    def result(self, outcome: Outcome, message: str = "") -> Any:
        return self.result_type(outcome, message)

    # --- the engine, bound to this kind (what a product exports as its own use cases) -------
    def submit(self, reference: str) -> str:
        return submit(self, reference)

    def requery(self, reference: str) -> str:
        return requery(self, reference)

    def apply_result(self, reference: str, result: Any, *, schedule_requery: bool = False) -> str:
        return apply_result(self, reference, result, schedule_requery=schedule_requery)

    def settle_by_hand(
        self, reference: str, *, expected: str, succeeded: bool, ledger_reference: str
    ) -> LedgerTransaction | None:
        return settle_by_hand(
            self,
            reference,
            expected=expected,
            succeeded=succeeded,
            ledger_reference=ledger_reference,
        )

    def sweep(self) -> dict[str, int]:
        return sweep(self)


R = TypeVar("R", bound="DataclassInstance")


def request_for(request_type: type[R], op: Any) -> R:
    """The provider's request for an operation: every field of the request dataclass is the
    operation's attribute of the same name (our reference or request id, amount, recipient)."""
    return request_type(**{f.name: getattr(op, f.name) for f in fields(request_type)})


# --- locks -------------------------------------------------------------------------------------


def locked(kind: Kind, *conditions: Any, skip_locked: bool = False) -> Any:
    """The business row FOR UPDATE (first in the lock order), re-read under the lock."""
    return database.locked(kind.model, *conditions, skip_locked=skip_locked)


def by_reference(kind: Kind, reference: str) -> Any:
    return locked(kind, kind.model.reference == reference)


def lock_hold(op: Any) -> Hold:
    """The operation's hold, locked after the operation's row and re-read under the lock."""
    hold = ledger.lock_hold(op.hold_id)
    assert hold is not None, op.reference
    return hold


def recheck_customer(kind: Kind, op: Any, hold: Hold) -> None:
    """At approval and at submission, under the locks (row, hold, wallet, customer): the hold
    is still active and the one outgoing gate (not frozen, KYC limits) still lets the money go. The
    operation's own hold already counts among today's holds, so it is not counted twice."""
    if hold.status != ACTIVE:
        raise Refused(f"The hold on this {kind.model.WHAT} is {hold.status}: nothing can be sent.")
    ledger.lock_wallets([op.account_id])
    try:
        limits.check_outgoing(
            op.user_id, op.currency, op.total, kind=kind.owner, reserved=hold.amount
        )
    except limits.LimitExceeded as exc:
        raise Refused(exc.message, code=exc.code) from None


# --- place and submit ----------------------------------------------------------------------------


def place(
    kind: Kind,
    op: Any,
    *,
    expires_at: datetime,
    reason: str,
    submit: bool,
    action: str,
    origin: Origin,
    **details: Any,
) -> Any:
    """Hold `op.total` on `op.account_id` and record `op` with its audit event (`action`,
    with `details`), inside the caller's transaction (which has locked the wallet and checked
    the limits). With `submit`, the provider call goes to the outbox and runs after commit.
    Raises InsufficientFunds with nothing held."""
    hold = ledger.place_hold(
        op.account_id,
        op.total,
        owner=kind.owner,
        reference=op.reference,
        expires_at=expires_at,
        reason=reason,
    )
    op.hold_id = hold.id
    db.session.add(op)
    audit.record(
        action,
        origin,
        actor_id=op.user_id,
        subject=op.reference,
        amount=op.amount,
        fee=op.fee,
        **details,
    )
    if submit:
        outbox.add(kind.submit_job, op.reference, queue=kind.queue)
    return op


def ask(call: Callable[[Any], Any], kind: Kind, op: Any) -> Any:
    """Call the provider through `providers.calls` (counted and timed for /metrics); any error
    (timeout, refused connection, 5xx, bad JSON) is PENDING."""
    return calls.ask(
        call,
        op,
        lambda message: kind.result(Outcome.PENDING, message),
        provider=op.provider,
        operation=call.__name__,
        reference=op.reference,
    )


def _requery_first(kind: Kind, op: Any) -> Any:
    """A re-run of a call already sent asks what became of it before sending it again; a "not
    found" within the provider's own retry window is not yet known (`providers.resend`)."""
    sent_at = op.submitted_at
    return requery_first(
        kind.adapter(op),
        sent_at,
        lambda: ask(kind.status, kind, op),
        lambda: _send_again(kind, op, sent_at),
        kind.result(Outcome.PENDING, NOT_YET_KNOWN),
    )


def _send_again(kind: Kind, op: Any, sent_at: datetime | None) -> Any:
    """Send again only what is still at the provider, and only once: the resend is claimed
    under the operation's row lock (a person may have settled it, or a twin requery resent it,
    while the provider was asked), moving `submitted_at` as the first send did."""
    reference = op.reference

    def claim() -> bool:
        row = by_reference(kind, reference)
        if row is None or row.status != PROCESSING or row.submitted_at != sent_at:
            return False
        row.submitted_at = utcnow()
        return True

    if not run_in_transaction(claim):
        return kind.result(Outcome.PENDING, NOT_YET_KNOWN)
    return ask(kind.send, kind, op)


def _unlocked(kind: Kind, reference: str) -> Any:
    return db.session.scalar(select(kind.model).where(kind.model.reference == reference))


def submit(kind: Kind, reference: str) -> str:
    """Send an operation at the provider once; a re-run asks the provider before sending again.

    `submitted_at` commits before the call, so a worker killed during the call leaves a mark:
    the next run asks the provider what became of our reference instead of paying twice.
    """
    op = _unlocked(kind, reference)
    if op is None or op.status != PROCESSING:
        return op.status if op else "missing"

    def mark() -> str | None:
        """None to send now; else why not: `_ASK` (sent before: ask the provider first) or the
        operation's status (the outgoing gate refused it since it was placed, a freeze say:
        it ends here, its hold released)."""
        row = by_reference(kind, reference)
        if row is None or row.status != PROCESSING:
            return str(row.status) if row else "missing"
        if row.submitted_at is not None:
            return _ASK
        try:  # the last look before money leaves: a freeze since the request ends it here
            recheck_customer(kind, row, lock_hold(row))
        except Refused as refused:
            release(kind, row, kind.result(Outcome.FAILED, refused.message))
            return str(row.status)
        row.submitted_at = utcnow()
        return None

    if op.submitted_at is None:
        outcome = run_in_transaction(mark)
        if outcome is None:
            result = ask(kind.send, kind, op)
            return apply_result(kind, reference, result, schedule_requery=True)
        if outcome != _ASK:
            return outcome
    result = _requery_first(kind, op)
    return apply_result(kind, reference, result, schedule_requery=True)


_ASK = "ask the provider"


def requery(kind: Kind, reference: str) -> str:
    """Ask the provider again about an operation still at the provider."""
    op = _unlocked(kind, reference)
    if op is None or op.status != PROCESSING:
        return op.status if op else "missing"
    if op.submitted_at is None:
        return submit(kind, reference)
    result = _requery_first(kind, op)
    return apply_result(kind, reference, result, schedule_requery=True)


def apply_result(kind: Kind, reference: str, result: Any, *, schedule_requery: bool = False) -> str:
    """Settle an operation by what the provider said, under its locks; returns its status."""

    def work() -> str:
        op = by_reference(kind, reference)
        if op is None:
            return "missing"
        settle_locked(kind, op, result, schedule_requery=schedule_requery)
        return str(op.status)

    return run_in_transaction(work)


# --- settle --------------------------------------------------------------------------------------


def settle_locked(kind: Kind, op: Any, result: Any, *, schedule_requery: bool) -> None:
    """The one place a provider's answer settles an operation. The caller holds its row lock."""
    if op.status == AWAITING_APPROVAL:
        log.error("provider news of an operation never sent", extra={"reference": op.reference})
        return
    if op.is_final:
        said = {Outcome.SUCCEEDED: SUCCEEDED, Outcome.FAILED: FAILED}.get(result.outcome)
        if said is not None and said != op.status:
            # A late answer that contradicts the settled one: a person must look.
            op.needs_attention = True
            log.error(
                "provider contradicts a settled operation",
                extra={"reference": op.reference, "status": op.status, "said": said},
            )
        return
    if result.provider_reference:
        op.provider_reference = result.provider_reference[:64]
    if result.outcome == Outcome.SUCCEEDED:
        capture(kind, op, result)
    elif result.outcome == Outcome.FAILED:
        release(kind, op, result)
    elif schedule_requery:
        _schedule_requery(kind, op)


def capture(
    kind: Kind,
    op: Any,
    result: Any,
    *,
    amount: int | None = None,
    ledger_reference: str | None = None,
) -> LedgerTransaction | None:
    """The provider delivered: capture the hold to the clearing account and the fee to fees.

    `amount` (at most `op.amount`) is what the provider settled when it settled less: the
    capture takes that plus the fee and releases the rest of the hold in the same posting.
    """
    hold = lock_hold(op)
    op.move_to(SUCCEEDED)
    kind.succeeded(op, result)
    if hold.status != ACTIVE:
        # Only by hand can a hold end before its operation: a person must settle the rest.
        op.needs_attention = True
        log.error("operation succeeded after its hold ended", extra={"reference": op.reference})
        return None
    settled = op.amount if amount is None else amount
    if not 0 < settled <= op.amount:
        raise Refused("A capture takes more than nothing and at most the amount held.")
    clearing = kind.clearing(op)
    txn = ledger.capture_hold(
        hold.id,
        settled + op.fee,
        clearing.id,
        kind=kind.capture_kind(op),
        narration=kind.narration(op),
        reference=ledger_reference,
    )
    op.transaction_id = txn.id
    if op.fee:
        ledger.post(
            kind.fee_kind,
            [
                ledger.Leg(clearing.id, -op.fee),
                ledger.Leg(ledger.system_account(FEES, op.currency).id, op.fee),
            ],
            narration=f"Fee for {op.reference}",
            parent_id=txn.id,
        )
    return txn


def release(kind: Kind, op: Any, result: Any, *, target: str = FAILED) -> None:
    """The provider failed it (or a person rejected it): the hold goes back to available."""
    hold = lock_hold(op)
    op.move_to(target)
    if hold.status == ACTIVE:
        ledger.release_hold(hold.id)
    else:
        log.info("operation's hold had already ended", extra={"reference": op.reference})
    kind.failed(op, result)


def refund(kind: Kind, op: Any, *, ledger_reference: str) -> LedgerTransaction:
    """Give back a captured operation the provider did not deliver: a reversing transaction
    linked to the capture (clearing and fee back to the wallet), once."""
    if op.transaction_id is None:
        raise Refused(f"This {kind.model.WHAT} was never captured, so there is nothing to refund.")
    refunded = db.session.scalar(
        select(LedgerTransaction.id).where(
            LedgerTransaction.parent_id == op.transaction_id,
            LedgerTransaction.kind == kind.refund_kind,
        )
    )
    if refunded is not None:
        raise Refused(f"This {kind.model.WHAT} has been refunded already.")
    legs = [
        ledger.Leg(kind.clearing(op).id, -op.amount),
        ledger.Leg(op.account_id, op.total),
    ]
    if op.fee:
        legs.append(ledger.Leg(ledger.system_account(FEES, op.currency).id, -op.fee))
    txn = ledger.post(
        kind.refund_kind,
        legs,
        narration=f"Refund of {op.reference}: {kind.narration(op)}",
        reference=ledger_reference,
        parent_id=op.transaction_id,
    )
    op.needs_attention = False
    kind.refunded(op)
    return txn


def _schedule_requery(kind: Kind, op: Any) -> None:
    backoff: list[int] = current_app.config[kind.backoff_setting]
    delay = backoff[min(op.requery_count, len(backoff) - 1)]
    op.requery_count += 1
    op.next_requery_at = utcnow() + timedelta(seconds=delay)
    outbox.add(kind.requery_job, op.reference, queue=kind.queue, delay=delay)


# --- by hand -------------------------------------------------------------------------------------


def settle_by_hand(
    kind: Kind, reference: str, *, expected: str, succeeded: bool, ledger_reference: str
) -> LedgerTransaction | None:
    """A person's verdict (an approved maker-checker settlement), in the caller's transaction.

    Refused unless the operation is still in the state the proposal recorded. At the provider:
    succeeded captures the hold, failed releases it, as a provider's answer would. Succeeded
    but not delivered: failed refunds it. Returns the posting, if there was one.
    """
    op = by_reference(kind, reference)
    what = kind.model.WHAT
    if op is None:
        raise Refused(f"No such {what}.")
    if op.status != expected:
        raise Refused(
            f"This {what} was {expected} when proposed and is {op.status} now: "
            "reject this proposal and propose again if it still needs settling."
        )
    if op.status == PROCESSING:
        hold = lock_hold(op)
        if hold.status != ACTIVE:
            raise Refused(
                f"This {what}'s hold is {hold.status}, so there is nothing to settle: "
                "post an adjustment."
            )
        op.needs_attention = False
        if succeeded:
            return capture(
                kind,
                op,
                kind.result(Outcome.SUCCEEDED, "Confirmed by our team."),
                ledger_reference=ledger_reference,
            )
        release(kind, op, kind.result(Outcome.FAILED, "Confirmed failed by our team."))
        return None
    if op.status == SUCCEEDED and not succeeded:
        return refund(kind, op, ledger_reference=ledger_reference)
    raise Refused(f"This {what} is already {op.status}.")


# --- periodic ------------------------------------------------------------------------------------


def sweep(kind: Kind) -> dict[str, int]:
    """Flag operations stuck at the provider too long (never released: they are requeried and
    left for a person), and requeue requeries overdue by the operation's own schedule (a job
    lost with its worker or never pushed)."""
    model = kind.model
    now = utcnow()
    stuck_before = now - timedelta(seconds=current_app.config[kind.stuck_setting])
    overdue_before = now - timedelta(seconds=60)
    backoff: list[int] = current_app.config[kind.backoff_setting]

    def work() -> dict[str, int]:
        stuck = db.session.scalars(
            select(model)
            .where(
                model.status == PROCESSING,
                model.needs_attention.is_(False),
                model.created_at <= stuck_before,
            )
            .with_for_update(skip_locked=True)
        ).all()
        for op in stuck:
            op.needs_attention = True
            log.warning("operation stuck, flagged for attention", extra={"reference": op.reference})
        overdue = db.session.scalars(
            select(model)
            .where(
                model.status == PROCESSING,
                or_(
                    model.next_requery_at <= overdue_before,
                    model.next_requery_at.is_(None) & (model.created_at <= overdue_before),
                ),
            )
            .with_for_update(skip_locked=True)
        ).all()
        for op in overdue:
            op.next_requery_at = now + timedelta(seconds=backoff[-1])
            outbox.add(kind.requery_job, op.reference, queue=kind.queue)
        return {"flagged": len(stuck), "requeried": len(overdue)}

    return run_in_transaction(work)


def expire(kind: Kind, hold_ids: list[int], now: datetime) -> int:
    """The owner's hold expiry: only an operation awaiting a person's approval ends by time.

    Each row is locked (skipping one another transaction holds: the next run sees it), then its
    hold, and both re-read: an operation approved meanwhile is at the provider and keeps its
    hold; one already settled is left alone.
    """
    ended = 0
    ops = db.session.scalars(
        select(kind.model)
        .where(kind.model.hold_id.in_(hold_ids), kind.model.status == AWAITING_APPROVAL)
        .order_by(kind.model.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    for op in ops:
        hold = lock_hold(op)
        if op.status != AWAITING_APPROVAL or hold.status != ACTIVE or hold.expires_at > now:
            continue
        kind.expired(op)
        ledger.release_hold(hold.id, status=HoldStatus.EXPIRED)
        ended += 1
    return ended


def expiry_handler(kind: Kind) -> Callable[[list[int], datetime], int]:
    """The `lumipay.ledger.service.register_hold_owner` handler for `kind`."""
    return lambda hold_ids, now: expire(kind, hold_ids, now)
