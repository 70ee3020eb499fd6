"""Use cases for bill payments: plan, pay (hold), settle (capture or release), requery.

Money path: `pay_bill` places a hold and records the bill as processing, with the provider
call written to the outbox, in one transaction. The job `submit_bill` calls the provider
outside any transaction, then `apply_result` settles under the bill's row lock: success
captures the hold to the provider clearing account and moves the fee to the fee account,
failure releases it, anything unclear schedules a requery. Webhooks reach `apply_result` too,
keyed by our request id; a bill already final ignores them.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth.phone import InvalidPhone, normalise_phone
from lumipay.bills import catalogue
from lumipay.bills.models import FAILED, PROCESSING, SUCCEEDED, BillPayment
from lumipay.database import as_utc, run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.jobs import outbox
from lumipay.kyc import limits
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import HoldNotActive, InsufficientFunds
from lumipay.ledger.models import WALLET, Account, Hold, LedgerTransaction
from lumipay.ledger.references import new_reference
from lumipay.money import format_amount
from lumipay.notifications.service import notify
from lumipay.providers import bills_provider_for, bills_provider_named
from lumipay.providers.bills import (
    BillRequest,
    BillResult,
    DataPlan,
    MeterCustomer,
    Outcome,
    ProviderError,
)

log = logging.getLogger(__name__)

CLEARING = "bills_clearing"
FEES = "fees"
REFUND = "bill_refund"
SUBMIT = "lumipay.bills.jobs.submit_bill"
REQUERY = "lumipay.bills.jobs.requery_bill"
INSUFFICIENT_FUNDS = "insufficient-funds"


class BillError(Exception):
    """A bill was refused and nothing was held; `field` names the form field it belongs to."""

    def __init__(self, field: str | None, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        # A stable name for API clients, e.g. "insufficient-funds"; None for a plain refusal.
        self.code = code


@dataclass(frozen=True)
class BillPlan:
    """A checked bill, ready to pay."""

    category: str
    service_id: str
    provider: str
    recipient: str
    phone: str
    variation_code: str | None
    description: str
    amount: int
    fee: int
    customer_name: str | None = None

    @property
    def total(self) -> int:
        return self.amount + self.fee


def _phone(text: str, field: str = "phone") -> str:
    """A Nigerian mobile number in local form (0803…), as networks and aggregators take it."""
    try:
        e164 = normalise_phone(text or "")
    except InvalidPhone as exc:
        raise BillError(field, str(exc)) from None
    if not e164.startswith("+234"):
        raise BillError(field, "Enter a Nigerian mobile number, e.g. 0803 123 4567.")
    return "0" + e164[4:]


def _meter(text: str) -> str:
    number = re.sub(r"[\s-]", "", text or "")
    if not re.fullmatch(r"\d{11,13}", number):
        raise BillError("meter_number", "Enter the 11 to 13 digit meter number.")
    return number


def _limits(service: catalogue.Service, amount: int) -> None:
    if amount < service.min_amount or amount > service.max_amount:
        raise BillError(
            "amount",
            f"{service.name} takes {format_amount(service.min_amount)} to "
            f"{format_amount(service.max_amount)}.",
        )


def plan_airtime(network: str, phone: str, amount: int) -> BillPlan:
    service = catalogue.service(network, "airtime")
    if service is None:
        raise BillError("network", "Choose a network.")
    number = _phone(phone)
    _limits(service, amount)
    provider = current_app.config["BILLS_PROVIDERS"]["airtime"]
    fee = current_app.config["BILLS_FEES"]["airtime"]
    return BillPlan(
        "airtime", network, provider, number, number, None,
        f"{service.name} airtime for {number}", amount, fee,
    )  # fmt: skip


def data_plans_by_network() -> list[tuple[str, str, list[DataPlan]]]:
    """Every network's data plans from the configured provider: (service id, network, plans)."""
    provider = bills_provider_for("data")
    found = []
    for network, name in catalogue.NETWORKS:
        service_id = f"{network}-data"
        try:
            plans = provider.data_plans(service_id)
        except ProviderError:
            plans = []
        found.append((service_id, name, plans))
    return found


def plan_data(plan_choice: str, phone: str) -> BillPlan:
    service_id, _, code = (plan_choice or "").partition(":")
    service = catalogue.service(service_id, "data")
    if service is None or not code:
        raise BillError("plan", "Choose a data plan.")
    number = _phone(phone)
    provider = bills_provider_for("data")
    try:
        plans = {plan.code: plan for plan in provider.data_plans(service_id)}
    except ProviderError as exc:
        raise BillError("plan", exc.message) from None
    plan = plans.get(code)
    if plan is None:
        raise BillError("plan", "That data plan is no longer offered. Choose another.")
    _limits(service, plan.amount)
    fee = current_app.config["BILLS_FEES"]["data"]
    return BillPlan(
        "data", service_id, provider.name, number, number, code,
        f"{service.name} {plan.name} for {number}", plan.amount, fee,
    )  # fmt: skip


def plan_electricity(
    disco: str, meter_number: str, meter_type: str, amount: int, phone: str
) -> BillPlan:
    """Check an electricity bill and verify the meter with the provider (a network call)."""
    service = catalogue.service(disco, "electricity")
    if service is None:
        raise BillError("disco", "Choose your electricity distributor.")
    if meter_type not in dict(catalogue.METER_TYPES):
        raise BillError("meter_type", "Choose prepaid or postpaid.")
    meter = _meter(meter_number)
    number = _phone(phone)
    _limits(service, amount)
    provider = bills_provider_for("electricity")
    customer = verify_meter(disco, meter, meter_type)
    fee = current_app.config["BILLS_FEES"]["electricity"]
    return BillPlan(
        "electricity", disco, provider.name, meter, number, meter_type,
        f"{service.name} {meter_type} meter {meter}", amount, fee, customer.name,
    )  # fmt: skip


def verify_meter(disco: str, meter_number: str, meter_type: str) -> MeterCustomer:
    try:
        return bills_provider_for("electricity").verify_meter(disco, meter_number, meter_type)
    except ProviderError as exc:
        raise BillError("meter_number", exc.message) from None


@dataclass(frozen=True)
class PaidBill:
    reference: str
    replayed: bool


def _request_id() -> str:
    """VTpass-style: Africa/Lagos date and time (YYYYMMDDHHmm) then random characters."""
    lagos = utcnow() + timedelta(hours=1)
    return f"{lagos:%Y%m%d%H%M}{secrets.token_hex(8)}"


def pay_bill(
    user_id: int,
    plan: BillPlan,
    *,
    idempotency_key: str,
    origin: Origin,
    replayable: idempotency.Replayable | None = None,
    step_up: bool | str = False,
) -> PaidBill:
    """Hold the money and record the bill as processing; the provider call goes to a job.

    Refused with BillError (nothing held) when the wallet's available balance is short. A
    repeat of the same key returns the first bill.
    """
    payload = {
        "category": plan.category,
        "service_id": plan.service_id,
        "recipient": plan.recipient,
        "variation_code": plan.variation_code,
        "amount": plan.amount,
        "step_up": step_up,  # how the debit was authorised (lumipay.auth.debits)
    }
    reference = new_reference("BL")

    def work() -> None:
        wallet = db.session.scalar(
            select(Account).where(
                Account.user_id == user_id, Account.currency == "NGN", Account.kind == WALLET
            )
        )
        if wallet is None:
            raise BillError("amount", "You need an NGN wallet to pay bills.")
        ledger.lock_wallets([wallet.id])
        try:
            limits.check_outgoing(user_id, wallet.currency, plan.total, kind="bill")
        except limits.LimitExceeded as exc:
            raise BillError(exc.field, exc.message, code=exc.code) from None
        try:
            hold = ledger.place_hold(
                wallet.id,
                plan.total,
                reference=reference,
                expires_at=utcnow() + timedelta(hours=current_app.config["BILLS_HOLD_HOURS"]),
                reason=plan.description,
            )
        except InsufficientFunds as exc:
            raise BillError(
                "amount",
                f"{exc.message} You have {format_amount(exc.available)} available and this "
                f"costs {format_amount(plan.total)}.",
                code=INSUFFICIENT_FUNDS,
            ) from None
        bill = BillPayment(
            reference=reference,
            request_id=_request_id(),
            user_id=user_id,
            account_id=wallet.id,
            category=plan.category,
            service_id=plan.service_id,
            provider=plan.provider,
            recipient=plan.recipient,
            phone=plan.phone,
            variation_code=plan.variation_code,
            description=plan.description[:120],
            customer_name=plan.customer_name,
            amount=plan.amount,
            fee=plan.fee,
            status=PROCESSING,
            hold_id=hold.id,
            created_at=utcnow(),
        )
        db.session.add(bill)
        audit.record(
            "bill.pay",
            origin,
            actor_id=user_id,
            subject=reference,
            amount=plan.amount,
            fee=plan.fee,
            service_id=plan.service_id,
            recipient=plan.recipient,
        )
        outbox.add(SUBMIT, reference, queue="bills")

    outcome, replayed = idempotency.run_once(
        user_id, idempotency_key, "bill", payload, reference, work, replayable=replayable
    )
    return PaidBill(outcome, replayed)


def bill_request(bill: BillPayment) -> BillRequest:
    return BillRequest(
        request_id=bill.request_id,
        category=bill.category,
        service_id=bill.service_id,
        recipient=bill.recipient,
        amount=bill.amount,
        phone=bill.phone,
        variation_code=bill.variation_code,
    )


def ask_provider(call: Any, request: BillRequest) -> BillResult:
    """Call the provider; any error (timeout, refused connection, 5xx, bad JSON) is PENDING."""
    try:
        return call(request)  # type: ignore[no-any-return]
    except Exception as exc:
        log.warning(
            "provider gave no clear answer",
            extra={"request_id": request.request_id, "error": f"{type(exc).__name__}: {exc}"},
        )
        return BillResult(Outcome.PENDING, "No answer from the provider yet.")


def _locked(reference: str) -> BillPayment:
    return db.session.scalars(
        select(BillPayment)
        .where(BillPayment.reference == reference)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def submit(reference: str) -> str:
    """Send a processing bill to its provider once; a re-run requeries before sending again.

    `submitted_at` commits before the call, so a worker killed during the call leaves a mark:
    the next run asks the provider what became of the request id instead of paying twice.
    """
    bill = db.session.scalar(select(BillPayment).where(BillPayment.reference == reference))
    if bill is None or bill.status != PROCESSING:
        return bill.status if bill else "missing"
    provider = bills_provider_named(bill.provider)
    request = bill_request(bill)
    if bill.submitted_at is None:

        def mark() -> bool:
            locked = _locked(reference)
            if locked.submitted_at is not None or locked.status != PROCESSING:
                return False
            locked.submitted_at = utcnow()
            return True

        first = run_in_transaction(mark)
    else:
        first = False
    if first:
        result = ask_provider(provider.charge, request)
    else:
        result = ask_provider(provider.status, request)
        if result.outcome == Outcome.NOT_FOUND:
            result = ask_provider(provider.charge, request)
    return apply_result(reference, result, schedule_requery=True)


def requery(reference: str) -> str:
    """Ask the provider again about a bill still processing."""
    bill = db.session.scalar(select(BillPayment).where(BillPayment.reference == reference))
    if bill is None or bill.status != PROCESSING:
        return bill.status if bill else "missing"
    if bill.submitted_at is None:
        return submit(reference)
    provider = bills_provider_named(bill.provider)
    result = ask_provider(provider.status, bill_request(bill))
    if result.outcome == Outcome.NOT_FOUND:
        result = ask_provider(provider.charge, bill_request(bill))
    return apply_result(reference, result, schedule_requery=True)


def apply_result(reference: str, result: BillResult, *, schedule_requery: bool = False) -> str:
    """Settle a bill by what the provider said, under its row lock; returns the bill's status."""

    def work() -> str:
        bill = _locked(reference)
        settle_locked(bill, result, schedule_requery=schedule_requery)
        return bill.status

    return run_in_transaction(work)


def settle_locked(bill: BillPayment, result: BillResult, *, schedule_requery: bool) -> None:
    """The one place a bill's money settles. The caller holds the bill's row lock."""
    if bill.is_final:
        final = SUCCEEDED if result.outcome == Outcome.SUCCEEDED else FAILED
        if result.outcome in (Outcome.SUCCEEDED, Outcome.FAILED) and final != bill.status:
            # A late answer that contradicts the settled one: a person must look.
            bill.needs_attention = True
            log.error(
                "provider contradicts a settled bill",
                extra={"reference": bill.reference, "status": bill.status, "said": final},
            )
        return
    if result.provider_reference:
        bill.provider_reference = result.provider_reference[:64]
    if result.outcome == Outcome.SUCCEEDED:
        _succeed(bill, result)
    elif result.outcome == Outcome.FAILED:
        _fail(bill, result)
    elif schedule_requery:
        _schedule_requery(bill)


def _succeed(bill: BillPayment, result: BillResult, *, ledger_reference: str | None = None) -> None:
    bill.move_to(SUCCEEDED)
    if bill.category == "electricity":
        bill.token = (result.token or "")[:64] or None
    bill.message = (result.message or "Delivered.")[:200]
    clearing = ledger.system_account(CLEARING, bill.currency)
    try:
        txn = ledger.capture_hold(
            bill.hold_id,
            bill.total,
            clearing.id,
            kind=bill.category,
            narration=bill.description,
            reference=ledger_reference,
        )
    except HoldNotActive:
        # The hold expired before the provider settled: the customer got the service and the
        # money is back in their available balance. Settling that needs a person.
        bill.needs_attention = True
        log.error("bill succeeded after its hold ended", extra={"reference": bill.reference})
        return
    bill.transaction_id = txn.id
    if bill.fee:
        fees = ledger.system_account(FEES, bill.currency)
        ledger.post(
            "bill_fee",
            [ledger.Leg(clearing.id, -bill.fee), ledger.Leg(fees.id, bill.fee)],
            narration=f"Fee for {bill.reference}",
            parent_id=txn.id,
        )
    notify(
        bill.user_id,
        "Bill paid",
        f"{bill.description}: {format_amount(bill.amount)} succeeded."
        + (f" Token: {bill.token}" if bill.token else ""),
        link=f"/bills/{bill.reference}",
    )


def _fail(bill: BillPayment, result: BillResult) -> None:
    bill.move_to(FAILED)
    bill.message = (result.message or "The provider could not deliver.")[:200]
    try:
        ledger.release_hold(bill.hold_id)
    except HoldNotActive:
        log.info("failed bill's hold had already ended", extra={"reference": bill.reference})
    notify(
        bill.user_id,
        "Bill failed",
        f"{bill.description}: {format_amount(bill.total)} is back in your available balance.",
        link=f"/bills/{bill.reference}",
    )


class ManualSettlementRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def settle_by_hand(
    reference: str, *, succeeded: bool, note: str, ledger_reference: str
) -> LedgerTransaction | None:
    """A person's verdict on a bill (an approved settlement), inside the caller's transaction.

    Processing: succeeded captures the hold, failed releases it, as a provider answer would.
    Succeeded but not delivered (the provider reported it failed): failed refunds it with a
    reversing transaction linked to the capture. Returns the posting, if there was one.
    """
    bill = _locked(reference)
    if bill.status == PROCESSING:
        hold_active = db.session.scalar(select(Hold.status).where(Hold.id == bill.hold_id))
        if succeeded and hold_active != "active":
            raise ManualSettlementRefused(
                "This bill's hold has ended, so there is nothing to capture: post an adjustment."
            )
        result = BillResult(Outcome.SUCCEEDED if succeeded else Outcome.FAILED, note)
        if succeeded:
            _succeed(bill, result, ledger_reference=ledger_reference)
        else:
            _fail(bill, result)
        bill.needs_attention = False
        return db.session.get(LedgerTransaction, bill.transaction_id) if succeeded else None
    if bill.status == SUCCEEDED and not succeeded:
        return _refund(bill, note, ledger_reference)
    raise ManualSettlementRefused(f"This bill is already {bill.status}.")


def _refund(bill: BillPayment, note: str, ledger_reference: str) -> LedgerTransaction:
    if bill.transaction_id is None:
        raise ManualSettlementRefused(
            "This bill was never captured, so there is nothing to refund."
        )
    refunded = db.session.scalar(
        select(LedgerTransaction.id).where(
            LedgerTransaction.parent_id == bill.transaction_id,
            LedgerTransaction.kind == REFUND,
        )
    )
    if refunded is not None:
        raise ManualSettlementRefused("This bill has been refunded already.")
    legs = [
        ledger.Leg(ledger.system_account(CLEARING, bill.currency).id, -bill.amount),
        ledger.Leg(bill.account_id, bill.total),
    ]
    if bill.fee:
        legs.append(ledger.Leg(ledger.system_account(FEES, bill.currency).id, -bill.fee))
    txn = ledger.post(
        REFUND,
        legs,
        narration=f"Refund of {bill.reference}: {bill.description}",
        reference=ledger_reference,
        parent_id=bill.transaction_id,
    )
    bill.message = note[:200]
    bill.needs_attention = False
    notify(
        bill.user_id,
        "Bill refunded",
        f"{bill.description}: {format_amount(bill.total)} is back in your wallet.",
        link=f"/bills/{bill.reference}",
    )
    return txn


def _schedule_requery(bill: BillPayment) -> None:
    backoff: list[int] = current_app.config["BILLS_REQUERY_BACKOFF"]
    delay = backoff[min(bill.requery_count, len(backoff) - 1)]
    bill.requery_count += 1
    bill.next_requery_at = utcnow() + timedelta(seconds=delay)
    outbox.add(REQUERY, bill.reference, queue="bills", delay=delay)


def apply_webhook(event_type: str, data: dict[str, Any]) -> None:
    """The bills channel's webhook handler; runs inside the inbox's transaction."""
    request_id = data.get("request_id") or data.get("requestId")
    bill = None
    if isinstance(request_id, str):
        bill = db.session.scalars(
            select(BillPayment)
            .where(BillPayment.request_id == request_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
    if bill is None:
        log.warning("webhook for an unknown bill", extra={"request_id": request_id})
        return
    _, result = bills_provider_named(bill.provider).webhook(data)
    settle_locked(bill, result, schedule_requery=False)


def sweep() -> dict[str, int]:
    """Periodic safety net: flag bills stuck too long, requeue requeries that are overdue.

    A requery whose job died with its worker (or never reached Redis) is overdue by the bill's
    own schedule (`next_requery_at`); it is written to the outbox again, to run at once.
    """
    now = utcnow()
    stuck_before = now - timedelta(seconds=current_app.config["BILLS_STUCK_AFTER"])
    overdue_before = now - timedelta(seconds=60)
    backoff: list[int] = current_app.config["BILLS_REQUERY_BACKOFF"]

    def work() -> dict[str, int]:
        stuck = db.session.scalars(
            select(BillPayment)
            .where(
                BillPayment.status == PROCESSING,
                BillPayment.needs_attention.is_(False),
                BillPayment.created_at <= stuck_before,
            )
            .with_for_update(skip_locked=True)
        ).all()
        for bill in stuck:
            bill.needs_attention = True
            log.warning("bill stuck, flagged for attention", extra={"reference": bill.reference})
        overdue = db.session.scalars(
            select(BillPayment)
            .where(
                BillPayment.status == PROCESSING,
                (BillPayment.next_requery_at <= overdue_before)
                | (
                    BillPayment.next_requery_at.is_(None)
                    & (BillPayment.created_at <= overdue_before)
                ),
            )
            .with_for_update(skip_locked=True)
        ).all()
        for bill in overdue:
            bill.next_requery_at = now + timedelta(seconds=backoff[-1])
            outbox.add(REQUERY, bill.reference, queue="bills")
        return {"flagged": len(stuck), "requeried": len(overdue)}

    return run_in_transaction(work)


def bills_for(user_id: int, limit: int = 50) -> list[BillPayment]:
    return list(
        db.session.scalars(
            select(BillPayment)
            .where(BillPayment.user_id == user_id)
            .order_by(BillPayment.id.desc())
            .limit(limit)
        )
    )


def bill_for(user_id: int, reference: str) -> BillPayment | None:
    """The customer's own bill, else None (another customer's reference is a 404)."""
    bill = db.session.scalar(select(BillPayment).where(BillPayment.reference == reference))
    if bill is None or bill.user_id != user_id:
        return None
    return bill


def seconds_since(bill: BillPayment) -> float:
    return (utcnow() - as_utc(bill.created_at)).total_seconds()
