"""bills/pay (hold now, provider call in a job: 202) and bills/{bill_id} (poll the result)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from werkzeug.wrappers import Response

from lumipay.api import idempotent, schemas
from lumipay.api.authorise import authorise
from lumipay.api.problems import Problem, field_problem
from lumipay.api.routing import dump, operation
from lumipay.auth.debits import Debit
from lumipay.auth.models import User
from lumipay.bills import service
from lumipay.bills.models import BillPayment
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.web import request_origin


def _plan(bill: schemas.AirtimeIn | schemas.DataIn | schemas.ElectricityIn) -> service.BillPlan:
    if isinstance(bill, schemas.AirtimeIn):
        return service.plan_airtime(bill.network, bill.phone, bill.amount)
    if isinstance(bill, schemas.DataIn):
        return service.plan_data(bill.plan, bill.phone)
    return service.plan_electricity(
        bill.disco, bill.meter_number, bill.meter_type, bill.amount, bill.phone
    )


def accepted(reference: str) -> tuple[int, dict[str, Any]]:
    bill = db.session.scalar(select(BillPayment).where(BillPayment.reference == reference))
    assert bill is not None
    body = schemas.BillPaidOut(
        bill_id=bill.reference,
        status=bill.status,  # type: ignore[arg-type]
        provider_ref=bill.provider_reference,
    )
    return 202, dump(body)


@operation(
    "POST", "/bills/pay", summary="Pay airtime, data or electricity", tag="bills",
    body=schemas.BillIn, responses={202: schemas.BillPaidOut}, idempotent=True,
    problems=(401, 409, 422),
)  # fmt: skip
def pay_bill(user: User, body: schemas.BillIn) -> Response:
    """The total (amount + fee) is held on your NGN wallet at once and the provider is asked
    in the background: poll `GET bills/{bill_id}` until `status` is `succeeded` (captured)
    or `failed` (released). `plan` for data is one of the provider's plan codes."""
    key = idempotent.key()
    try:
        plan = _plan(body.root)
        authorised = authorise(user, Debit("bill", "NGN", plan.amount + plan.fee), key)
        paid = service.pay_bill(
            user.id,
            plan,
            idempotency_key=key,
            origin=request_origin(),
            replayable=idempotency.Replayable(accepted),
            step_up=authorised.fingerprint,
        )
    except service.BillError as exc:
        raise field_problem(exc.code or "bill-refused", exc.field, exc.message) from None
    except idempotency.IdempotencyError as exc:
        raise idempotent.problem_for(exc) from None
    return idempotent.replay_or(user.id, key, paid.replayed, lambda: accepted(paid.reference))


@operation(
    "GET", "/bills/<string(maxlength=40):bill_id>", summary="A bill and its status", tag="bills",
    responses={200: schemas.BillOut}, problems=(401, 404),
)  # fmt: skip
def get_bill(user: User, bill_id: str) -> tuple[int, schemas.BillOut]:
    bill = service.bill_for(user.id, bill_id)
    if bill is None:
        raise Problem("not-found", "No bill of yours has that id.")
    return 200, schemas.BillOut(
        bill_id=bill.reference,
        status=bill.status,  # type: ignore[arg-type]
        provider_ref=bill.provider_reference,
        category=bill.category,  # type: ignore[arg-type]
        service_id=bill.service_id,
        description=bill.description,
        recipient=bill.recipient,
        currency=bill.currency,  # type: ignore[arg-type]
        amount=bill.amount,
        fee=bill.fee,
        total=bill.total,
        token=bill.token,
        message=bill.message,
        created_at=bill.created_at,
        settled_at=bill.settled_at,
    )
