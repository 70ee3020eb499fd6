"""bank/topup, bank/payout (Idempotency-Key required), bank/topups/{id}, bank/payouts/{id} and
bank/banks: money in and out of Lumipay through the same lumipay.bank.service as the pages."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Response

from lumipay.api import idempotent, ids, schemas
from lumipay.api.authorise import authorise
from lumipay.api.problems import field_problem, found_or_not_found, refusal_problem
from lumipay.api.routing import dump, operation
from lumipay.auth.debits import Debit
from lumipay.auth.models import User
from lumipay.bank import service
from lumipay.bank.models import Payout, PayoutStatus, TopUp, TopUpStatus
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.kyc.limits import LimitExceeded
from lumipay.ledger.models import Account
from lumipay.web import request_origin

REFERENCE = "<string(maxlength=40):reference>"


def topup_out(topup: TopUp, return_url: str | None = None) -> schemas.TopUpOut:
    reserved = service.reserved_account_of(topup)
    return schemas.TopUpOut(
        topup_id=topup.public_id,
        reference=topup.reference,
        provider=topup.provider,
        wallet_id=ids.wallet_public_ids({topup.account_id})[topup.account_id],
        status=TopUpStatus(topup.status),
        method=f"{topup.provider}:{topup.method}",
        currency=schemas.currency(topup.currency),
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
        payment_url=topup.checkout_url,
        return_url=return_url,
        created_at=topup.created_at,
        credited_at=topup.credited_at,
    )


def payout_out(payout: Payout) -> schemas.PayoutOut:
    return schemas.PayoutOut(
        payout_id=payout.public_id,
        reference=payout.reference,
        provider=payout.provider,
        from_wallet_id=ids.wallet_public_ids({payout.account_id})[payout.account_id],
        to_bank_account=schemas.BankAccountOut(
            bank_code=payout.bank_code,
            bank_name=payout.bank_name,
            account_number=payout.account_number,
            account_name=payout.account_name,
        ),
        status=PayoutStatus(payout.status),
        bank_code=payout.bank_code,
        bank_name=payout.bank_name,
        account_number=payout.account_number,
        account_name=payout.account_name,
        currency=schemas.currency(payout.currency),
        amount=payout.amount,
        fee=payout.fee,
        narration=payout.narration,
        message=payout.message,
        created_at=payout.created_at,
        settled_at=payout.settled_at,
    )


def _topup_created(user_id: int, return_url: str | None) -> Any:
    def respond(reference: str) -> tuple[int, dict[str, Any]]:
        topup = service.topup_for(user_id, reference)
        assert topup is not None
        return 201, dump(topup_out(topup, return_url))

    return respond


def _payout_accepted(user_id: int) -> Any:
    def respond(reference: str) -> tuple[int, dict[str, Any]]:
        payout = service.payout_for(user_id, reference)
        assert payout is not None
        return 202, dump(payout_out(payout))

    return respond


def _ngn_wallet(user: User, public_id: Any, field: str) -> None:
    """Top-ups and payouts use the NGN wallet: a `wallet_id` given must be that one."""
    if public_id is None:
        return
    wallet = db.session.get(Account, ids.wallet_pk(user.id, public_id) or 0)
    if wallet is None or wallet.currency != "NGN":
        raise field_problem("validation-error", field, "Choose your NGN wallet.")


def _topup_method(user: User, body: schemas.TopUpIn) -> str:
    """`method`, or the method the README's `provider` and `return_url` ask for."""
    _ngn_wallet(user, body.wallet_id, "wallet_id")
    if (body.method is None) == (body.provider is None):
        raise field_problem("validation-error", "provider", "Give provider (or method).")
    if body.method is not None:
        return body.method
    if body.return_url is not None and not re.match(r"^https?://[^\s/]+", body.return_url):
        raise field_problem("validation-error", "return_url", "Give an http or https URL.")
    provider = (body.provider or "").strip().lower()
    offered = [choice for choice, _ in service.topup_choices() if choice.startswith(provider + ":")]
    if not offered:
        known = sorted({choice.partition(":")[0] for choice, _ in service.topup_choices()})
        raise field_problem(
            "validation-error",
            "provider",
            f"That provider takes no top-ups. Providers: {', '.join(known)}.",
        )
    wanted = "checkout" if body.return_url is not None else "reserved_account"
    return next((c for c in offered if c.endswith(":" + wanted)), offered[0])


def _payout_account(user: User, body: schemas.PayoutIn) -> schemas.BankAccountIn:
    _ngn_wallet(user, body.from_wallet_id, "from_wallet_id")
    if body.to_bank_account is not None:
        if body.bank_code is not None or body.account_number is not None:
            raise field_problem(
                "validation-error", "to_bank_account", "Give to_bank_account or bank_code."
            )
        return body.to_bank_account
    if body.bank_code is None or body.account_number is None:
        field = "bank_code" if body.bank_code is None else "account_number"
        raise field_problem("validation-error", field, "Give bank_code and account_number.")
    return schemas.BankAccountIn(bank_code=body.bank_code, account_number=body.account_number)


@operation(
    "POST", "/bank/topup", summary="Start a top-up of your NGN wallet", tag="bank",
    body=schemas.TopUpIn, responses={201: schemas.TopUpOut}, idempotent=True,
    problems=(401, 409, 422),
)  # fmt: skip
def create_topup(user: User, body: schemas.TopUpIn) -> Response:
    """`{method, amount}`, or the README's `{wallet_id, amount, provider, return_url}`
    (`provider` such as `Moniepoint`; with `return_url` its payment page, without it its bank
    transfer details where it has them). Returns how to pay: `reserved_account` (send a bank
    transfer to your own account number) or `checkout_url` (= `payment_url`, a payment page).
    The wallet is credited when the provider reports the payment; poll
    `GET bank/topups/{topup_id}` until `status` is `credited`."""
    key = idempotent.key("bank.topup")
    method = _topup_method(user, body)
    respond = _topup_created(user.id, body.return_url)
    try:
        started = service.start_topup(
            user.id,
            method,
            body.amount,
            idempotency_key=key,
            origin=request_origin(),
            replayable=idempotency.Replayable(respond),
        )
    except (service.BankError, LimitExceeded) as exc:
        raise refusal_problem(exc, "topup-refused") from None
    except idempotency.IdempotencyError as exc:
        raise idempotent.problem_for(exc) from None
    return idempotent.replay_or(user.id, key, started.replayed, lambda: respond(started.reference))


@operation(
    "POST", "/bank/payout", summary="Pay out to an account at another bank", tag="bank",
    body=schemas.PayoutIn, responses={202: schemas.PayoutOut}, idempotent=True,
    problems=(401, 403, 409, 422),
)  # fmt: skip
def create_payout(user: User, body: schemas.PayoutIn) -> Response:
    """`{bank_code, account_number, amount, narration}`, or the account as
    `to_bank_account: {bank_code, account_number}` (with `from_wallet_id`, your NGN wallet).
    Tier 2 and above. The account's holder is looked up first (`account_name`); the amount
    plus `fee` is held on your NGN wallet at once. `status` is `awaiting_approval` (above the
    approval threshold, until staff approve it) or `processing`; poll `GET bank/payouts/{reference}`
    until `succeeded` (captured) or `failed`/`rejected` (released). Refusals:
    `kyc-tier-required` (Tier 1), `over-kyc-limit`, `insufficient-funds`, `payout-refused`."""
    key = idempotent.key("bank.payout")
    respond = _payout_accepted(user.id)
    account = _payout_account(user, body)
    try:
        details = service.check_payout(
            account.bank_code, account.account_number, body.amount, body.narration
        )
        payee = f"{details.bank_code}:{details.account_number}"
        debit = Debit("payout", "NGN", details.amount + details.fee, payee=payee)
        authorised = authorise(user, debit, key)
        requested = service.request_payout(
            user.id,
            details,
            idempotency_key=key,
            origin=request_origin(),
            replayable=idempotency.Replayable(respond),
            step_up=authorised.fingerprint,
        )
    except (service.BankError, LimitExceeded) as exc:
        raise refusal_problem(exc, "payout-refused") from None
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
    """`topup_id` or `reference`."""
    topup = found_or_not_found(
        service.topup_for(user.id, ids.reference_of(TopUp, user.id, reference)),
        "No top-up of yours has that reference.",
    )
    return 200, topup_out(topup)


@operation(
    "GET", f"/bank/payouts/{REFERENCE}", summary="A payout of yours and its status", tag="bank",
    responses={200: schemas.PayoutOut}, problems=(401, 404),
)  # fmt: skip
def get_payout(user: User, reference: str) -> tuple[int, schemas.PayoutOut]:
    """`payout_id` or `reference`."""
    payout = found_or_not_found(
        service.payout_for(user.id, ids.reference_of(Payout, user.id, reference)),
        "No payout of yours has that reference.",
    )
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
