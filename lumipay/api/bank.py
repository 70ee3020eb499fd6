"""bank/topup, bank/payout (Idempotency-Key required), bank/topups/{id}, bank/payouts/{id} and
bank/banks: money in and out of Lumipay through the same lumipay.bank.service as the pages."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from lumipay.api import idempotent, schemas
from lumipay.api.authorise import authorise
from lumipay.api.problems import Problem, field_problem
from lumipay.api.routing import dump, operation
from lumipay.auth.debits import Debit
from lumipay.auth.models import User
from lumipay.bank import service
from lumipay.bank.models import Payout, TopUp
from lumipay.idempotency import service as idempotency
from lumipay.web import request_origin

REFERENCE = "<string(maxlength=40):reference>"


def topup_out(topup: TopUp) -> schemas.TopUpOut:
    reserved = service.reserved_account_of(topup)
    return schemas.TopUpOut(
        reference=topup.reference,
        status=topup.status,
        method=f"{topup.provider}:{topup.method}",
        currency=topup.currency,  # type: ignore[arg-type]
        amount=topup.amount,
        amount_paid=topup.amount_paid,
        reserved_account=(
            schemas.ReservedAccountOut(
                account_number=reserved.account_number,
                account_name=reserved.account_name,
                bank_name=reserved.bank_name,
            )
            if reserved is not None
            else None
        ),
        checkout_url=topup.checkout_url,
        created_at=topup.created_at,
        credited_at=topup.credited_at,
    )


def payout_out(payout: Payout) -> schemas.PayoutOut:
    return schemas.PayoutOut(
        reference=payout.reference,
        status=payout.status,
        bank_code=payout.bank_code,
        bank_name=payout.bank_name,
        account_number=payout.account_number,
        account_name=payout.account_name,
        currency=payout.currency,  # type: ignore[arg-type]
        amount=payout.amount,
        fee=payout.fee,
        narration=payout.narration,
        message=payout.message,
        created_at=payout.created_at,
        settled_at=payout.settled_at,
    )


def refusal(exc: service.BankError, slug: str) -> Problem:
    """The refusal's own code (kyc-tier-required, over-kyc-limit, insufficient-funds) or `slug`."""
    return field_problem(exc.code or slug, exc.field, exc.message)


def _topup_created(user_id: int) -> Any:
    def respond(reference: str) -> tuple[int, dict[str, Any]]:
        topup = service.topup_for(user_id, reference)
        assert topup is not None
        return 201, dump(topup_out(topup))

    return respond


def _payout_accepted(user_id: int) -> Any:
    def respond(reference: str) -> tuple[int, dict[str, Any]]:
        payout = service.payout_for(user_id, reference)
        assert payout is not None
        return 202, dump(payout_out(payout))

    return respond


@operation(
    "POST", "/bank/topup", summary="Start a top-up of your NGN wallet", tag="bank",
    body=schemas.TopUpIn, responses={201: schemas.TopUpOut}, idempotent=True,
    problems=(401, 409, 422),
)  # fmt: skip
def create_topup(user: User, body: schemas.TopUpIn) -> Response:
    """Returns how to pay: `reserved_account` (send a bank transfer to your own account number)
    or `checkout_url` (a payment page). The wallet is credited when the provider reports the
    payment; poll `GET bank/topups/{reference}` until `status` is `credited`."""
    key = idempotent.key()
    respond = _topup_created(user.id)
    try:
        started = service.start_topup(
            user.id,
            body.method,
            body.amount,
            idempotency_key=key,
            origin=request_origin(),
            replayable=idempotency.Replayable(respond),
        )
    except service.BankError as exc:
        raise refusal(exc, "topup-refused") from None
    except idempotency.IdempotencyError as exc:
        raise idempotent.problem_for(exc) from None
    return idempotent.replay_or(user.id, key, started.replayed, lambda: respond(started.reference))


@operation(
    "POST", "/bank/payout", summary="Pay out to an account at another bank", tag="bank",
    body=schemas.PayoutIn, responses={202: schemas.PayoutOut}, idempotent=True,
    problems=(401, 403, 409, 422),
)  # fmt: skip
def create_payout(user: User, body: schemas.PayoutIn) -> Response:
    """Tier 2 and above. The account's holder is looked up first (`account_name`); the amount
    plus `fee` is held on your NGN wallet at once. `status` is `awaiting_approval` (above the
    approval threshold, until staff approve it) or `processing`; poll `GET bank/payouts/{reference}`
    until `succeeded` (captured) or `failed`/`rejected` (released). Refusals:
    `kyc-tier-required` (Tier 1), `over-kyc-limit`, `insufficient-funds`, `payout-refused`."""
    key = idempotent.key()
    respond = _payout_accepted(user.id)
    try:
        details = service.check_payout(
            body.bank_code, body.account_number, body.amount, body.narration
        )
        payee = f"{details.bank_code}:{details.account_number}"
        authorise(user, Debit("payout", "NGN", details.amount + details.fee, payee=payee), key)
        requested = service.request_payout(
            user.id,
            details,
            idempotency_key=key,
            origin=request_origin(),
            replayable=idempotency.Replayable(respond),
        )
    except service.BankError as exc:
        raise refusal(exc, "payout-refused") from None
    except idempotency.IdempotencyError as exc:
        raise idempotent.problem_for(exc) from None
    return idempotent.replay_or(
        user.id, key, requested.replayed, lambda: respond(requested.reference)
    )


@operation(
    "GET", f"/bank/topups/{REFERENCE}", summary="A top-up of yours and its status", tag="bank",
    responses={200: schemas.TopUpOut}, problems=(401, 404),
)  # fmt: skip
def get_topup(user: User, reference: str) -> tuple[int, schemas.TopUpOut]:
    topup = service.topup_for(user.id, reference)
    if topup is None:
        raise Problem("not-found", "No top-up of yours has that reference.")
    return 200, topup_out(topup)


@operation(
    "GET", f"/bank/payouts/{REFERENCE}", summary="A payout of yours and its status", tag="bank",
    responses={200: schemas.PayoutOut}, problems=(401, 404),
)  # fmt: skip
def get_payout(user: User, reference: str) -> tuple[int, schemas.PayoutOut]:
    payout = service.payout_for(user.id, reference)
    if payout is None:
        raise Problem("not-found", "No payout of yours has that reference.")
    return 200, payout_out(payout)


@operation(
    "GET", "/bank/banks", summary="Banks you can pay out to, and ways to top up", tag="bank",
    responses={200: schemas.BanksOut}, problems=(401,),
)  # fmt: skip
def list_banks(user: User) -> tuple[int, schemas.BanksOut]:
    """An empty `banks` list means the payout provider can't answer right now."""
    del user
    return 200, schemas.BanksOut(
        banks=[schemas.BankOut(code=bank.code, name=bank.name) for bank in service.banks()],
        topup_methods=[choice for choice, _ in service.topup_choices()],
    )
