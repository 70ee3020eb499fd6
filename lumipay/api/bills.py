"""bills/pay (hold now, provider call in a job: 202) and bills/{bill_id} (poll the result).

Two body shapes: the README's `{wallet_id, bill_type, recipient, provider, amount}` (with
`network`, `plan` or the meter fields where the bill type needs them) and the first API's,
tagged by `category`. Both become the same `BillPlan`, so the service's fingerprint of the
request, and with it the Idempotency-Key replay, doesn't depend on the shape.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from werkzeug.wrappers import Response

from lumipay import settings
from lumipay.api import idempotent, ids, schemas
from lumipay.api.authorise import authorise
from lumipay.api.problems import field_problem, found_or_not_found, refusal_problem
from lumipay.api.routing import dump, operation
from lumipay.auth.debits import Debit
from lumipay.auth.models import User
from lumipay.auth.phone import InvalidPhone, normalise_phone
from lumipay.bills import catalogue, service
from lumipay.bills.models import BillPayment
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.kyc.limits import LimitExceeded
from lumipay.ledger.models import Account
from lumipay.providers import BILLS_ADAPTERS
from lumipay.web import request_origin

# The service's field names as the README's shape calls them.
README_FIELDS = {"phone": "recipient", "meter_number": "recipient"}
ShapeIn = schemas.AirtimeIn | schemas.DataIn | schemas.ElectricityIn | schemas.BillPayIn


def provider_names() -> dict[str, str]:
    """Every provider name a client may send, lower-cased, with the adapter (or `*`) it means."""
    names = {adapter: adapter for adapter in BILLS_ADAPTERS}
    for alias, adapter in settings.bills().provider_aliases.items():
        names[alias.lower()] = adapter
    return names


def adapter_for(provider: str | None, bill_type: str) -> str:
    """The bills adapter a provider name stands for; 422 listing the known names otherwise."""
    configured = settings.bills().providers[bill_type]
    if provider is None:
        return str(configured)
    adapter = provider_names().get(provider.strip().lower())
    if adapter is None:
        known = [*settings.bills().provider_aliases, *BILLS_ADAPTERS]
        raise field_problem(
            "validation-error",
            "provider",
            f"Unknown provider. Known providers: {', '.join(known)}.",
        )
    return str(configured if adapter == "*" else adapter)


def _network(body: schemas.BillPayIn) -> str:
    """The network named, else the one the number's prefix belongs to."""
    if body.network:
        return body.network.strip().lower()
    try:
        e164 = normalise_phone(body.recipient)
    except InvalidPhone as exc:
        raise field_problem("bill-refused", "recipient", str(exc)) from None
    network = catalogue.network_for("0" + e164[4:]) if e164.startswith("+234") else None
    if network is None:
        raise field_problem(
            "bill-refused", "network", "We can't tell this number's network: give `network`."
        )
    return network


def _readme_plan(user: User, body: schemas.BillPayIn) -> service.BillPlan:
    if body.wallet_id is not None:
        wallet = db.session.get(Account, ids.wallet_pk(user.id, body.wallet_id) or 0)
        if wallet is None or wallet.currency != "NGN":
            raise field_problem("bill-refused", "wallet_id", "Bills are paid from your NGN wallet.")
    if body.bill_type == "airtime":
        if body.amount is None:
            raise field_problem("validation-error", "amount", "Give the amount in kobo.")
        plan = service.plan_airtime(_network(body), body.recipient, body.amount)
    elif body.bill_type == "data":
        if not body.plan:
            raise field_problem("validation-error", "plan", "Give a data plan code.")
        plan = service.plan_data(body.plan, body.recipient)
        if body.amount is not None and body.amount != plan.amount:
            raise field_problem(
                "bill-refused", "amount", f"This plan costs {plan.amount} kobo, not {body.amount}."
            )
    else:
        if not body.disco or body.meter_type is None or body.amount is None:
            field = "disco" if not body.disco else "meter_type" if not body.meter_type else "amount"
            raise field_problem(
                "validation-error", field, "Electricity needs disco, meter_type and amount."
            )
        plan = service.plan_electricity(
            body.disco, body.recipient, body.meter_type, body.amount, body.phone or user.phone
        )
    return dataclasses.replace(plan, provider=adapter_for(body.provider, body.bill_type))


def _plan(user: User, bill: ShapeIn) -> service.BillPlan:
    if isinstance(bill, schemas.BillPayIn):
        return _readme_plan(user, bill)
    if isinstance(bill, schemas.AirtimeIn):
        return service.plan_airtime(bill.network, bill.phone, bill.amount)
    if isinstance(bill, schemas.DataIn):
        return service.plan_data(bill.plan, bill.phone)
    return service.plan_electricity(
        bill.disco, bill.meter_number, bill.meter_type, bill.amount, bill.phone
    )


def _network_of(bill: BillPayment) -> str | None:
    if bill.category == "electricity":
        return None
    return bill.service_id.removesuffix("-data")


def paid_out(bill: BillPayment) -> dict[str, Any]:
    return {
        "bill_id": bill.public_id,
        "reference": bill.reference,
        "status": bill.status,
        "provider_ref": bill.request_id,
        "provider": bill.provider,
        "network": _network_of(bill),
    }


def accepted(reference: str) -> tuple[int, dict[str, Any]]:
    bill = db.session.scalar(select(BillPayment).where(BillPayment.reference == reference))
    assert bill is not None
    return 202, dump(schemas.BillPaidOut(**paid_out(bill)))


@operation(
    "POST", "/bills/pay", summary="Pay airtime, data or electricity", tag="bills",
    body=schemas.BillIn, responses={202: schemas.BillPaidOut}, idempotent=True,
    problems=(401, 409, 422),
)  # fmt: skip
def pay_bill(user: User, body: schemas.BillIn) -> Response:
    """The total (amount + fee) is held on your NGN wallet at once and the provider is asked
    in the background, after the commit: poll `GET bills/{bill_id}` until `status` is
    `succeeded` (captured) or `failed` (released). `provider_ref` is our own request id for
    the provider, stable from the start. `provider` is a configured name (`VTUProviderA`, an
    alias of a bills adapter) or an adapter's; an unknown one is a 422 listing the known ones.
    An airtime body without `network` has it from the number's prefix (returned as
    `network`). `plan` for data is one of the provider's plan codes."""
    key = idempotent.key("bills.pay")
    try:
        plan = _plan(user, body.root)
        authorised = authorise(user, Debit("bill", "NGN", plan.amount + plan.fee), key)
        paid = service.pay_bill(
            user.id,
            plan,
            idempotency_key=key,
            origin=request_origin(),
            replayable=idempotency.Replayable(accepted),
            step_up=authorised.fingerprint,
        )
    except (service.BillError, LimitExceeded) as exc:
        field = exc.field
        if isinstance(body.root, schemas.BillPayIn):
            field = README_FIELDS.get(field or "", field)
        raise refusal_problem(exc, "bill-refused", field=field) from None
    except idempotency.IdempotencyError as exc:
        raise idempotent.problem_for(exc) from None
    return idempotent.replay_or(user.id, key, paid.replayed, lambda: accepted(paid.reference))


@operation(
    "GET", "/bills/<string(maxlength=40):bill_id>", summary="A bill and its status", tag="bills",
    responses={200: schemas.BillOut}, problems=(401, 404),
)  # fmt: skip
def get_bill(user: User, bill_id: str) -> tuple[int, schemas.BillOut]:
    """`bill_id` from the 202 (a reference works too)."""
    bill = found_or_not_found(
        service.bill_for(user.id, ids.reference_of(BillPayment, user.id, bill_id)),
        "No bill of yours has that id.",
    )
    return 200, schemas.BillOut(
        **paid_out(bill),
        bill_type=schemas.one_of(schemas.BILL_TYPES, bill.category),
        category=schemas.one_of(schemas.BILL_TYPES, bill.category),
        wallet_id=ids.wallet_public_ids({bill.account_id})[bill.account_id],
        provider_reference=bill.provider_reference,
        service_id=bill.service_id,
        description=bill.description,
        recipient=bill.recipient,
        currency=schemas.currency(bill.currency),
        amount=bill.amount,
        fee=bill.fee,
        total=bill.total,
        token=bill.token,
        message=bill.message,
        created_at=bill.created_at,
        settled_at=bill.settled_at,
    )
