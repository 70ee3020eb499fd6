"""transfers/ (send, Idempotency-Key required) and transfers/{tx_ref} (a receipt)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from werkzeug.wrappers import Response

from lumipay.accounts.service import wallet_for
from lumipay.api import idempotent, schemas
from lumipay.api.authorise import authorise
from lumipay.api.bearer import by_bearer
from lumipay.api.problems import Problem, field_problem
from lumipay.api.routing import dump, operation
from lumipay.auth.debits import Debit
from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.ratelimit import configured, limiter
from lumipay.transfers import service
from lumipay.transfers.models import Transfer
from lumipay.web import request_origin

# A refused transfer names the recipient (masked), so it is a name enquiry: the same
# per-customer limit as the pages' lookups, and counted together with them.
name_enquiry_limit = limiter.shared_limit(
    configured("LIMIT_NAME_ENQUIRY"), scope="name-enquiry", key_func=by_bearer, methods=["POST"]
)


def created(reference: str) -> tuple[int, dict[str, Any]]:
    transfer = db.session.scalar(select(Transfer).where(Transfer.reference == reference))
    assert transfer is not None
    body = schemas.TransferCreatedOut(
        transfer_id=transfer.id,
        transaction_ref=transfer.reference,
        status=transfer.status,  # type: ignore[arg-type]
    )
    return 201, dump(body)


def _authorise(user: User, body: schemas.TransferIn, key: str) -> bool | str:
    """The debit check (PIN, step-up); True when step-up was part of it (for the fingerprint).
    An unknown wallet is left to the service, which names the field."""
    wallet = wallet_for(user.id, body.from_wallet_id)
    if wallet is None:
        return False
    payee = f"lumipay:{(body.to_account_number or '').strip()}"
    debit = Debit("transfer", wallet.currency, body.amount, payee=payee)
    return authorise(user, debit, key, otp_code=body.otp_code).fingerprint


@operation(
    "POST", "/transfers/", summary="Send money to another Lumipay account", tag="transfers",
    body=schemas.TransferIn, responses={201: schemas.TransferCreatedOut}, idempotent=True,
    problems=(401, 409, 422, 429), limits=(name_enquiry_limit,),
)  # fmt: skip
def create_transfer(user: User, body: schemas.TransferIn) -> Response:
    """Instant and final. Refusals name the field: `insufficient-funds` on `amount`,
    `transfer-refused` for an unknown account number, your own account, or a recipient
    without a wallet in this currency."""
    key = idempotent.key()
    step_up = _authorise(user, body, key)
    try:
        sent = service.send_transfer(
            user.id,
            body.from_wallet_id,
            body.to_account_number,
            body.amount,
            body.narration,
            idempotency_key=key,
            origin=request_origin(),
            replayable=idempotency.Replayable(created),
            step_up=step_up,
        )
    except service.TransferError as exc:
        slug = exc.code or "transfer-refused"
        raise field_problem(slug, exc.field, exc.message) from None
    except idempotency.IdempotencyError as exc:
        raise idempotent.problem_for(exc) from None
    return idempotent.replay_or(user.id, key, sent.replayed, lambda: created(sent.reference))


@operation(
    "GET", "/transfers/<string(maxlength=40):tx_ref>", summary="A transfer you sent or received",
    tag="transfers", responses={200: schemas.TransferOut}, problems=(401, 404),
)  # fmt: skip
def get_transfer(user: User, tx_ref: str) -> tuple[int, schemas.TransferOut]:
    transfer = service.transfer_for(user.id, tx_ref)
    if transfer is None:
        raise Problem("not-found", "No transfer of yours has that reference.")
    parties = service.parties(transfer)
    sent = transfer.sender_id == user.id
    return 200, schemas.TransferOut(
        transfer_id=transfer.id,
        transaction_ref=transfer.reference,
        status=transfer.status,  # type: ignore[arg-type]
        direction="sent" if sent else "received",
        currency=transfer.currency,  # type: ignore[arg-type]
        amount=transfer.amount,
        narration=transfer.narration,
        counterparty_name=parties.recipient_name if sent else parties.sender_name,
        counterparty_account_number=(parties.recipient_account if sent else parties.sender_account),
        created_at=transfer.created_at,
    )
