"""transfers/ (send, Idempotency-Key required) and transfers/{tx_ref} (a receipt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from werkzeug.wrappers import Response

from lumipay.accounts.service import wallet_for
from lumipay.api import idempotent, ids, schemas
from lumipay.api.authorise import authorise
from lumipay.api.bearer import by_bearer
from lumipay.api.problems import field_problem, found_or_not_found, refusal_problem
from lumipay.api.routing import dump, operation
from lumipay.auth.debits import Debit
from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.kyc.limits import LimitExceeded
from lumipay.ledger.models import WALLET, Account
from lumipay.ratelimit import configured, limiter
from lumipay.transfers import service
from lumipay.transfers.models import Transfer, TransferStatus
from lumipay.web import request_origin

# A refused transfer names the recipient (masked), so it is a name enquiry: the same
# per-customer limit as the pages' lookups, and counted together with them.
name_enquiry_limit = limiter.shared_limit(
    configured("LIMIT_NAME_ENQUIRY"), scope="name-enquiry", key_func=by_bearer, methods=["POST"]
)


# One refusal for a `to_wallet_id` that doesn't exist and one the caller may not pay (their
# own, a bank's internal account, another currency's): the same words, field and status.
NO_SUCH_WALLET = "No customer's wallet you can pay has that id."


def created(reference: str) -> tuple[int, dict[str, Any]]:
    transfer = db.session.scalar(select(Transfer).where(Transfer.reference == reference))
    assert transfer is not None
    body = schemas.TransferCreatedOut(
        transfer_id=transfer.public_id,
        transaction_ref=transfer.reference,
        status=TransferStatus(transfer.status),
    )
    return 201, dump(body)


@dataclass(frozen=True)
class Canonical:
    """A transfer request with both body shapes mapped to one: what the service is asked."""

    from_wallet_id: int
    to_account_number: str
    by_wallet: bool


def _canonical(user: User, body: schemas.TransferIn) -> Canonical:
    """Map `to_wallet_id` to its owner's account number (the service pays by number), and
    check `currency` against the wallet. Every `to_wallet_id` that can't be paid gets the same
    refusal as one that doesn't exist."""
    if (body.to_account_number is None) == (body.to_wallet_id is None):
        raise field_problem(
            "validation-error", "to_account_number", "Give to_account_number or to_wallet_id."
        )
    from_pk = ids.wallet_pk(user.id, body.from_wallet_id)
    wallet = wallet_for(user.id, from_pk) if from_pk else None
    if wallet is not None and body.currency is not None and body.currency != wallet.currency:
        raise field_problem(
            "validation-error",
            "currency",
            f"This wallet holds {wallet.currency}, not {body.currency}: send {wallet.currency} "
            "from it, or choose your wallet in that currency.",
        )
    if body.to_account_number is not None:
        return Canonical(from_pk, body.to_account_number, by_wallet=False)
    number = db.session.scalar(
        select(User.account_number)
        .join(Account, Account.user_id == User.id)
        .where(
            Account.public_id == body.to_wallet_id,
            Account.kind == WALLET,
            Account.user_id != user.id,
            Account.currency == (wallet.currency if wallet is not None else Account.currency),
            User.role == "customer",
        )
    )
    if not number:
        raise field_problem("transfer-refused", "to_wallet_id", NO_SUCH_WALLET)
    return Canonical(from_pk, number, by_wallet=True)


def _authorise(user: User, body: schemas.TransferIn, request: Canonical, key: str) -> bool | str:
    """The debit check (PIN, step-up); True when step-up was part of it (for the fingerprint).
    An unknown wallet is left to the service, which names the field."""
    wallet = wallet_for(user.id, request.from_wallet_id) if request.from_wallet_id else None
    if wallet is None:
        return False
    payee = f"lumipay:{request.to_account_number.strip()}"
    debit = Debit("transfer", wallet.currency, body.amount, payee=payee)
    return authorise(user, debit, key, otp_code=body.otp_code).fingerprint


@operation(
    "POST", "/transfers/", summary="Send money to another Lumipay account", tag="transfers",
    body=schemas.TransferIn, responses={201: schemas.TransferCreatedOut}, idempotent=True,
    problems=(401, 409, 422, 429), limits=(name_enquiry_limit,),
)  # fmt: skip
def create_transfer(user: User, body: schemas.TransferIn) -> Response:
    """Instant and final. The recipient is `to_account_number` or `to_wallet_id` (another
    customer's wallet in the same currency). Refusals name the field: `insufficient-funds` on
    `amount`, `transfer-refused` for an unknown account number, your own account, or a recipient
    without a wallet in this currency; every `to_wallet_id` you can't pay gets one refusal,
    whether or not it exists. Counted with name enquiries (`LIMIT_NAME_ENQUIRY`)."""
    key = idempotent.key("transfers.create")
    request = _canonical(user, body)
    step_up = _authorise(user, body, request, key)
    try:
        sent = service.send_transfer(
            user.id,
            request.from_wallet_id,
            request.to_account_number,
            body.amount,
            body.narration,
            idempotency_key=key,
            origin=request_origin(),
            replayable=idempotency.Replayable(created),
            step_up=step_up,
        )
    except (service.TransferError, LimitExceeded) as exc:
        if request.by_wallet and exc.field == "to_account_number":
            # About the recipient: never an account number the caller didn't send.
            raise field_problem("transfer-refused", "to_wallet_id", NO_SUCH_WALLET) from None
        raise refusal_problem(exc, "transfer-refused") from None
    except idempotency.IdempotencyError as exc:
        raise idempotent.problem_for(exc) from None
    return idempotent.replay_or(user.id, key, sent.replayed, lambda: created(sent.reference))


@operation(
    "GET", "/transfers/<string(maxlength=40):tx_ref>", summary="A transfer you sent or received",
    tag="transfers", responses={200: schemas.TransferOut}, problems=(401, 404),
)  # fmt: skip
def get_transfer(user: User, tx_ref: str) -> tuple[int, schemas.TransferOut]:
    transfer = found_or_not_found(
        service.transfer_for(user.id, tx_ref), "No transfer of yours has that reference."
    )
    parties = service.parties(transfer)
    sent = transfer.sender_id == user.id
    own_wallet = transfer.from_account_id if sent else transfer.to_account_id
    return 200, schemas.TransferOut(
        transfer_id=transfer.public_id,
        wallet_id=ids.wallet_public_ids({own_wallet})[own_wallet],
        transaction_ref=transfer.reference,
        status=TransferStatus(transfer.status),
        direction="sent" if sent else "received",
        currency=schemas.currency(transfer.currency),
        amount=transfer.amount,
        narration=transfer.narration,
        counterparty_name=parties.recipient_name if sent else parties.sender_name,
        counterparty_account_number=(parties.recipient_account if sent else parties.sender_account),
        created_at=transfer.created_at,
    )
