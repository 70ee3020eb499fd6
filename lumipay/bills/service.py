"""Use cases for bill payments: plan and pay airtime, data and electricity.

The money runs on the held-operation engine (lumipay.inflight.engine): `pay_bill` places the
hold and records the bill as processing, with the provider call in the outbox, in one
transaction; the engine submits, requeries, settles (success captures to the bills clearing
account and the fee to fees, failure releases) and sweeps. `BILLS` says what a bill is to the
engine; this module keeps what is the bills' own: the catalogue, the plans and the provider's
request. Webhooks are keyed by our request id; a bill already final ignores them.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from lumipay import settings
from lumipay.audit.service import Origin
from lumipay.auth.phone import InvalidPhone, normalise_phone
from lumipay.bills import catalogue
from lumipay.bills.models import PROCESSING, BillPayment
from lumipay.clock import in_lagos
from lumipay.database import as_utc, newest, utcnow
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.inflight import engine
from lumipay.kyc import limits
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import InsufficientFunds
from lumipay.ledger.models import WALLET, Account
from lumipay.ledger.references import new_reference
from lumipay.money import format_amount
from lumipay.notifications.service import notify
from lumipay.providers import bills_provider_for, bills_provider_named
from lumipay.providers.bills import (
    BillRequest,
    BillResult,
    DataPlan,
    MeterCustomer,
    ProviderError,
)
from lumipay.refusals import INSUFFICIENT_FUNDS, Refused
from lumipay.webhooks import service as webhooks

log = logging.getLogger(__name__)

CLEARING = "bills_clearing"
FEES = "fees"
REFUND = "bill_refund"
SUBMIT = "lumipay.bills.jobs.submit_bill"
REQUERY = "lumipay.bills.jobs.requery_bill"


class BillError(Refused):
    """A bill was refused and nothing was held; `field` names the form field it belongs to."""


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


@dataclass(frozen=True)
class PaidBill:
    reference: str
    replayed: bool


def _phone(text: str, field: str = "phone") -> str:
    """A Nigerian mobile number in local form (0803…), as networks and aggregators take it."""
    try:
        e164 = normalise_phone(text or "")
    except InvalidPhone as exc:
        raise BillError(field, str(exc)) from None
    if not e164.startswith("+234"):
        raise BillError(field, "Enter a Nigerian mobile number, e.g. 0803 123 4567.")
    return "0" + e164[4:]


def local_number(text: str) -> str | None:
    """A phone number as the bill forms take it (0803…), or None if it is not a Nigerian mobile."""
    try:
        return _phone(text)
    except BillError:
        return None


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
    provider = settings.bills().providers["airtime"]
    fee = settings.bills().fees["airtime"]
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
    fee = settings.bills().fees["data"]
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
    fee = settings.bills().fees["electricity"]
    return BillPlan(
        "electricity", disco, provider.name, meter, number, meter_type,
        f"{service.name} {meter_type} meter {meter}", amount, fee, customer.name,
    )  # fmt: skip


def verify_meter(disco: str, meter_number: str, meter_type: str) -> MeterCustomer:
    try:
        return bills_provider_for("electricity").verify_meter(disco, meter_number, meter_type)
    except ProviderError as exc:
        raise BillError("meter_number", exc.message) from None


def _request_id() -> str:
    """VTpass-style: Africa/Lagos date and time (YYYYMMDDHHmm) then random characters."""
    lagos = in_lagos(utcnow())
    return f"{lagos:%Y%m%d%H%M}{secrets.token_hex(8)}"


class Bills(engine.Kind):
    """A bill, as the held-operation engine sees it."""

    owner = "bill"
    model = BillPayment
    queue = "bills"
    submit_job, requery_job = SUBMIT, REQUERY
    settings_prefix = "BILLS"
    result_type = BillResult

    def adapter(self, op: BillPayment) -> Any:
        return bills_provider_named(op.provider)

    def send(self, op: BillPayment) -> BillResult:
        return bills_provider_named(op.provider).charge(bill_request(op))

    def status(self, op: BillPayment) -> BillResult:
        return bills_provider_named(op.provider).status(bill_request(op))

    def clearing(self, op: BillPayment) -> Account:
        return ledger.system_account(CLEARING, op.currency)

    def capture_kind(self, op: BillPayment) -> str:
        return op.category

    def narration(self, op: BillPayment) -> str:
        return op.description

    def succeeded(self, op: BillPayment, result: BillResult) -> None:
        if op.category == "electricity":
            op.token = (result.token or "")[:64] or None
        op.message = (result.message or "Delivered.")[:200]
        notify(
            op.user_id,
            "Bill paid",
            f"{op.description}: {format_amount(op.amount)} succeeded."
            + (f" Token: {op.token}" if op.token else ""),
            link=f"/bills/{op.reference}",
        )

    def failed(self, op: BillPayment, result: BillResult) -> None:
        op.message = (result.message or "The provider could not deliver.")[:200]
        notify(
            op.user_id,
            "Bill failed",
            f"{op.description}: {format_amount(op.total)} is back in your available balance.",
            link=f"/bills/{op.reference}",
        )

    def refunded(self, op: BillPayment) -> None:
        op.message = "Refunded by our team."
        notify(
            op.user_id,
            "Bill refunded",
            f"{op.description}: {format_amount(op.total)} is back in your wallet.",
            link=f"/bills/{op.reference}",
        )


BILLS = Bills()
# The bills' own use cases are the engine's, bound to bills (jobs, webhooks, settlements).
submit = BILLS.submit
requery = BILLS.requery
apply_result = BILLS.apply_result
settle_by_hand = BILLS.settle_by_hand
sweep = BILLS.sweep


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
        limits.check_outgoing(user_id, wallet.currency, plan.total, kind="bill")
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
            created_at=utcnow(),
        )
        try:
            engine.place(
                BILLS,
                bill,
                expires_at=utcnow() + timedelta(hours=settings.bills().hold_hours),
                reason=plan.description,
                submit=True,
                action="bill.pay",
                origin=origin,
                service_id=plan.service_id,
                recipient=plan.recipient,
            )
        except InsufficientFunds as exc:
            raise BillError(
                "amount",
                f"{exc.message} You have {format_amount(exc.available)} available and this "
                f"costs {format_amount(plan.total)}.",
                code=INSUFFICIENT_FUNDS,
            ) from None

    outcome, replayed = idempotency.run_once(
        user_id, idempotency_key, "bill", payload, reference, work, replayable=replayable
    )
    return PaidBill(outcome, replayed)


def bill_request(bill: BillPayment) -> BillRequest:
    return engine.request_for(BillRequest, bill)


def apply_webhook(event_type: str, data: dict[str, Any]) -> None:
    """The bills channel's webhook handler; runs inside the inbox's transaction."""
    request_id = data.get("request_id") or data.get("requestId")
    bill = None
    if isinstance(request_id, str):
        bill = engine.locked(BILLS, BillPayment.request_id == request_id)
    if bill is None:
        log.warning("webhook for an unknown bill", extra={"provider_request_id": request_id})
        return
    _, result = bills_provider_named(bill.provider).webhook(data)
    engine.settle_locked(BILLS, bill, result, schedule_requery=False)


def bills_for(user_id: int, limit: int = 50) -> list[BillPayment]:
    return newest(BillPayment, BillPayment.user_id == user_id, limit=limit)


def bill_for(user_id: int, reference: str) -> BillPayment | None:
    """The customer's own bill, else None (another customer's reference is a 404)."""
    bill = db.session.scalar(select(BillPayment).where(BillPayment.reference == reference))
    if bill is None or bill.user_id != user_id:
        return None
    return bill


def seconds_since(bill: BillPayment) -> float:
    return (utcnow() - as_utc(bill.created_at)).total_seconds()


webhooks.register_handler("bills", apply_webhook)
