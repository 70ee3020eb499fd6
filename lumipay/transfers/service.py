"""Use cases for transfers between customers: name enquiry, checks, send."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, cast

from flask import current_app
from sqlalchemy import (
    BigInteger,
    Boolean,
    Table,
    bindparam,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from lumipay import settings
from lumipay.audit import service as audit
from lumipay.audit.models import AuditEvent
from lumipay.audit.service import Origin
from lumipay.auth.models import User
from lumipay.auth.names import mask_name
from lumipay.auth.nuban import is_valid_account_number
from lumipay.database import PreparedStatement, run_alone, run_in_transaction
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.kyc import limits
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import InsufficientFunds, LimitRefused
from lumipay.ledger.models import WALLET, Account
from lumipay.ledger.references import new_reference
from lumipay.money import MAX_MINOR, format_amount
from lumipay.refusals import INSUFFICIENT_FUNDS, Refused
from lumipay.transfers.models import Transfer

NARRATION_MAX = 100


class TransferError(Refused):
    """A transfer was refused; `field` names the form field the message belongs to."""


@dataclass(frozen=True)
class Recipient:
    user_id: int
    account_number: str
    masked_name: str


@dataclass(frozen=True)
class TransferPlan:
    """A checked transfer, ready for the customer to confirm."""

    from_wallet_id: int
    currency: str
    amount: int
    recipient: Recipient
    to_wallet_id: int
    narration: str


def name_enquiry(account_number: str) -> Recipient | None:
    """The customer behind an account number, with the name masked as banks show it."""
    number = (account_number or "").strip()
    if not re.fullmatch(r"\d{10}", number):
        return None
    if not is_valid_account_number(settings.core().nuban_bank_code, number):
        return None
    user = db.session.scalar(select(User).where(User.account_number == number))
    if user is None:
        return None
    return Recipient(user.id, number, mask_name(user.full_name))


def _number(to_account_number: str) -> tuple[str, bool]:
    """The account number as typed (trimmed), and whether it is a NUBAN worth looking up."""
    number = (to_account_number or "").strip()
    lookup = re.fullmatch(r"\d{10}", number) is not None and is_valid_account_number(
        settings.core().nuban_bank_code, number
    )
    return number, lookup


def _clean_narration(narration: str) -> str:
    return re.sub(r"\s+", " ", narration or "").strip()


def _malformed(amount: int, narration: str, number: str) -> TransferError | None:
    """What is wrong with the request itself, before anything is read for it: the first of
    the amount, the narration and the account number's shape, or None."""
    if type(amount) is not int or amount <= 0 or amount > MAX_MINOR:
        return TransferError("amount", "Enter an amount greater than zero.")
    if len(_clean_narration(narration)) > NARRATION_MAX:
        return TransferError("narration", f"Keep the narration to {NARRATION_MAX} characters.")
    if not re.fullmatch(r"\d{10}", number):
        return TransferError("to_account_number", "Enter the 10-digit account number.")
    return None


def plan_transfer(
    user_id: int,
    from_wallet_id: int,
    to_account_number: str,
    amount: int,
    narration: str,
    *,
    on: Connection | None = None,
) -> TransferPlan:
    """Check a transfer without writing anything; raise TransferError naming the problem.

    One statement (on the session's connection, or `on`) reads the sender's wallet, the
    recipient and their wallet in its currency; the refusals come in the same order whatever
    it found."""
    number, lookup = _number(to_account_number)
    found = _PLAN.execute(
        {"number": number, "lookup": lookup, "wallet_id": from_wallet_id, "user_id": user_id},
        on=on,
    ).first()
    return _checked_plan(found, user_id, from_wallet_id, number, amount, narration)


def _checked_plan(
    found: Any, user_id: int, from_wallet_id: int, number: str, amount: int, narration: str
) -> TransferPlan:
    """The plan the read `found` makes (`_PLAN`'s columns), or the TransferError naming the
    first problem."""
    if found is None or found.currency is None:
        raise TransferError("from_wallet_id", "Choose one of your wallets.")
    problem = _malformed(amount, narration, number)
    if problem is not None:
        raise problem
    if found.recipient_id is None:
        raise TransferError("to_account_number", "No Lumipay account has that number.")
    recipient = Recipient(found.recipient_id, number, mask_name(found.recipient_name))
    if found.recipient_id == user_id:
        raise TransferError(
            "to_account_number", "That is your own account. Choose another recipient."
        )
    if found.to_wallet_id is None:
        raise TransferError(
            "to_account_number",
            f"{recipient.masked_name} has no {found.currency} wallet to receive this.",
        )
    if found.available < amount:
        raise TransferError(
            "amount",
            "Insufficient available balance: you have "
            f"{format_amount(found.available, found.currency)} available.",
            code=INSUFFICIENT_FUNDS,
        )
    return TransferPlan(
        from_wallet_id,
        found.currency,
        amount,
        recipient,
        found.to_wallet_id,
        _clean_narration(narration),
    )


@dataclass(frozen=True)
class SentTransfer:
    """What a customer gets back from sending: the reference, and whether it was a repeat."""

    reference: str
    replayed: bool


class _NeedsRates(Exception):
    """The limits were weighed without FX rates and need them: ask again with them."""


_accounts, _users = Account.__table__, User.__table__
_recipient_wallet = _accounts.alias("recipient_wallet")
# The plan's read: the sender's wallet, the recipient and their wallet in its currency (the
# recipient is looked up only when the number is a valid NUBAN: `lookup`).
_PLAN_QUERY = (
    select(
        _accounts.c.currency.label("currency"),
        (_accounts.c.balance - _accounts.c.held).label("available"),
        _users.c.id.label("recipient_id"),
        _users.c.full_name.label("recipient_name"),
        _recipient_wallet.c.id.label("to_wallet_id"),
    )
    .select_from(
        _accounts.outerjoin(
            _users,
            (_users.c.account_number == bindparam("number")) & bindparam("lookup", type_=Boolean),
        ).outerjoin(
            _recipient_wallet,
            (_recipient_wallet.c.user_id == _users.c.id)
            & (_recipient_wallet.c.currency == _accounts.c.currency)
            & (_recipient_wallet.c.kind == WALLET),
        )
    )
    .where(
        _accounts.c.id == bindparam("wallet_id"),
        _accounts.c.user_id == bindparam("user_id"),
        _accounts.c.kind == WALLET,
    )
)
_PLAN = PreparedStatement("lumipay_transfer_plan", _PLAN_QUERY)

_TRANSFER_COLUMNS = ("reference", "sender_id", "from_account_id", "amount", "narration", "status")
# The transfer row's columns the statement's own read fills in.
_READ_COLUMNS = ("recipient_id", "to_account_id", "currency")
_AUDIT_COLUMNS = ("actor_id", "action", "subject", "ip", "user_agent")


@functools.cache
def _posting_statement(claimed: bool) -> PreparedStatement:
    """The whole transfer in one statement, built once: the plan's read (`_PLAN_QUERY`); when
    it finds a recipient wallet the sender may pay and the balance to pay it, the key's claim
    (when `claimed`), the posting (which locks the wallets, then the customers, and weighs the
    KYC limits), the transfer row and its audit row. It always returns one row: the plan's
    columns, and the posting's transaction id (None when the plan refused it, or when the claim
    found the key taken).

    The statement fills in what only its read knows: the recipient's wallet (the posting's
    second account, its limits' credited wallet, the row's to_account_id), the recipient, and
    the currency (the limits' and the audit details')."""
    plan = _PLAN_QUERY.cte("plan")
    go = (
        select(plan)
        .where(
            plan.c.recipient_id.is_not(None),
            plan.c.recipient_id != bindparam("user_id"),
            plan.c.to_wallet_id.is_not(None),
            plan.c.available >= bindparam("t_amount"),
        )
        .cte("go")
    )
    call = ledger.posting_call(
        accounts=postgresql.array(
            [bindparam("t_from_account_id", type_=BigInteger), go.c.to_wallet_id]
        ),
        limits=func.jsonb_set(
            func.jsonb_set(
                sql_cast(bindparam("post_limits", type_=JSONB), JSONB),
                literal_column("'{out,currency}'"),
                func.to_jsonb(go.c.currency),
            ),
            literal_column("'{in,0,account_id}'"),
            func.to_jsonb(go.c.to_wallet_id),
        ),
    ).lateral()
    posted = select(call.c.transaction_id, call.c.created_at).select_from(go.join(call, true()))
    if claimed:
        claim = idempotency.claim_if(exists(select(go.c.currency))).cte("claim")
        posted = posted.where(exists(select(claim.c.id)))
    posted_cte = posted.cte("posted")
    transfers = cast(Table, Transfer.__table__)
    transfer = (
        insert(transfers)
        .from_select(
            [*_TRANSFER_COLUMNS, *_READ_COLUMNS, "transaction_id", "created_at"],
            select(
                *(
                    bindparam(f"t_{name}", type_=transfers.c[name].type)
                    for name in _TRANSFER_COLUMNS
                ),
                go.c.recipient_id,
                go.c.to_wallet_id,
                go.c.currency,
                posted_cte.c.transaction_id,
                posted_cte.c.created_at,
            ).select_from(posted_cte.join(go, true())),
            # public_id from the server default: the statement is the same every call.
            include_defaults=False,
        )
        .returning(transfers.c.id)
        .cte("transfer")
    )
    events = cast(Table, AuditEvent.__table__)
    details = sql_cast(
        func.jsonb_set(
            sql_cast(bindparam("a_details", type_=events.c.details.type), JSONB),
            literal_column("'{currency}'"),
            func.to_jsonb(go.c.currency),
        ),
        events.c.details.type,
    )
    audited = (
        insert(events)
        .from_select(
            [*_AUDIT_COLUMNS, "details", "created_at"],
            select(
                *(bindparam(f"a_{name}", type_=events.c[name].type) for name in _AUDIT_COLUMNS),
                details,
                posted_cte.c.created_at,
            ).select_from(posted_cte.join(go, true())),
            include_defaults=False,
        )
        .returning(events.c.id)
        .cte("audited")
    )
    one = select(literal(1).label("one")).subquery("one")
    return PreparedStatement(
        f"lumipay_transfer_{'claimed' if claimed else 'posted'}",
        select(
            plan.c.currency,
            plan.c.available,
            plan.c.recipient_id,
            plan.c.recipient_name,
            plan.c.to_wallet_id,
            posted_cte.c.transaction_id,
            select(transfer.c.id).scalar_subquery(),
            select(audited.c.id).scalar_subquery(),
        ).select_from(
            one.outerjoin(plan, true()).outerjoin(posted_cte, true()),
        ),
    )


# The recipient's wallet and the currency in the parameters: placeholders the statement
# replaces with what its own read finds (`_posting_statement`).
_TO_BE_READ_WALLET, _TO_BE_READ_CURRENCY = 0, ""


def _posting_params(
    user_id: int,
    from_wallet_id: int,
    number: str,
    amount: int,
    narration: str,
    reference: str,
    origin: Origin,
    *,
    rates: bool,
    claim: idempotency.Claim | None,
    at: datetime | None,
) -> dict[str, Any]:
    number, lookup = _number(number)
    params = ledger.posting_params(
        "transfer",
        [ledger.Leg(from_wallet_id, -amount), ledger.Leg(_TO_BE_READ_WALLET, amount)],
        reference=reference,
        narration=narration,
        limits=limits.movement_limits(
            out=(user_id, _TO_BE_READ_CURRENCY, amount, 0),
            incoming=[(_TO_BE_READ_WALLET, amount)],
            rates=rates,
        ),
        at=at,
    )
    params.update(number=number, lookup=lookup, wallet_id=from_wallet_id, user_id=user_id)
    transfer = {
        "reference": reference,
        "sender_id": user_id,
        "from_account_id": from_wallet_id,
        "amount": amount,
        "narration": narration,
        "status": "succeeded",
    }
    params.update({f"t_{name}": value for name, value in transfer.items()})
    event = audit.row(
        "transfer",
        origin,
        actor_id=user_id,
        subject=reference,
        amount=amount,
        currency=_TO_BE_READ_CURRENCY,
        to_account_number=number,
    )
    params.update({f"a_{name}": value for name, value in event.items()})
    if claim is not None:
        params.update(claim.params())
    return params


def send_transfer(
    user_id: int,
    from_wallet_id: int,
    to_account_number: str,
    amount: int,
    narration: str,
    *,
    idempotency_key: str,
    origin: Origin,
    replayable: idempotency.Replayable | None = None,
    step_up: bool | str = False,
) -> SentTransfer:
    """Move money to another customer at once; a repeat of the same key returns the first one.

    The claim of the key, the transfer record, the audit row and the ledger posting commit
    together. A page form's transfer is one statement (`_posting_statement`): the plan's read,
    the claim, the posting (lumipay.ledger's `ledger_post`), the transfer row and the audit row,
    run as its own transaction on a connection of its own (`run_alone`): one round trip (in
    the session's transaction instead when one is open: it commits with what that holds). The
    JSON API's (whose response is stored with the claim) and a repeat that may only replay go
    through `idempotency.run_once`, with the same statement, unclaimed, inside its transaction.
    """
    payload = {
        "from_wallet_id": from_wallet_id,
        "to_account_number": (to_account_number or "").strip(),
        "amount": amount,
        "narration": narration,
        # Whether the second factor was asked for: part of what the key stands for.
        "step_up": step_up,
    }
    reference = new_reference()
    claim = None
    if replayable is None:
        claim = idempotency.claim_in_statement(
            user_id, idempotency_key, "transfer", payload, reference
        )
    number = (to_account_number or "").strip()
    clean_narration = _clean_narration(narration)

    def post(rates: bool, claim: idempotency.Claim | None, on: Connection | None) -> bool:
        """Plan and post in one statement; False when the claim found the key taken."""
        if _malformed(amount, narration, number) is not None:
            # The plan words it, after a wallet that isn't the sender's, as a preview does. On
            # `run_alone`'s connection when there is one: a transfer never holds two.
            plan_transfer(user_id, from_wallet_id, number, amount, narration, on=on)
            raise AssertionError("a malformed transfer is refused by its plan")
        at = None
        if current_app.config.get("CLOCK") is not None:
            # A test clock is read under both wallets' locks (ledger.locked_time), so the
            # recipient's wallet comes from a read of its own first.
            planned = plan_transfer(user_id, from_wallet_id, number, amount, narration)
            at = ledger.locked_time([from_wallet_id, planned.to_wallet_id])
        params = _posting_params(
            user_id,
            from_wallet_id,
            number,
            amount,
            clean_narration,
            reference,
            origin,
            rates=rates,
            claim=claim,
            at=at,
        )
        try:
            row = _posting_statement(claim is not None).execute(params, on=on).one()
        except DBAPIError as exc:
            refused = ledger.posting_error(exc)
            if isinstance(refused, LimitRefused):
                if refused.refusal.get("code") == "rates" and not rates:
                    raise _NeedsRates() from None
                raise limits.refusal_error(refused.refusal, kind="transfer") from None
            if isinstance(refused, InsufficientFunds):
                raise TransferError("amount", refused.message, code=INSUFFICIENT_FUNDS) from None
            raise
        _checked_plan(row, user_id, from_wallet_id, number, amount, narration)
        if row.transaction_id is None and claim is None:
            raise AssertionError("a plan that passes posts, unless its claim is taken")
        return row.transaction_id is not None

    def in_one_statement(rates: bool, claim: idempotency.Claim) -> tuple[str, bool]:
        # A session with a transaction open commits the transfer with what it holds, as
        # before; a test clock is read under wallet locks taken first, in one transaction.
        try:
            if current_app.config.get("CLOCK") is None and not db.session().in_transaction():
                claimed = run_alone(partial(post, rates, claim))
            else:
                claimed = run_in_transaction(partial(post, rates, claim, None))
        except TransferError as exc:
            # The statement's read refuses before its claim, so a repeat of a transfer that
            # went through finds the money it moved gone: the first outcome, not "short". A
            # repeat may be the customer's, or `run_alone`'s own, of a statement that committed
            # but whose answer was lost.
            replayed = claim.replay_if_taken() if exc.code == INSUFFICIENT_FUNDS else None
            if replayed is None:
                raise
            return replayed, True
        if claimed:
            return reference, False
        return claim.replay(), True

    def in_run_once(rates: bool) -> tuple[str, bool]:
        def work() -> None:
            post(rates, None, None)

        return idempotency.run_once(
            user_id, idempotency_key, "transfer", payload, reference, work, replayable=replayable
        )

    for rates in (False, True):
        try:
            if claim is None:
                outcome, replayed = in_run_once(rates)
            else:
                outcome, replayed = in_one_statement(rates, claim)
        except _NeedsRates:
            continue
        return SentTransfer(outcome, replayed)
    raise AssertionError("unreachable: with rates the limits never ask for them")


def transfer_for(user_id: int, reference: str) -> Transfer | None:
    """A transfer the customer sent or received, else None."""
    transfer = db.session.scalar(select(Transfer).where(Transfer.reference == reference))
    if transfer is None or user_id not in (transfer.sender_id, transfer.recipient_id):
        return None
    return transfer


@dataclass(frozen=True)
class Parties:
    sender_name: str
    sender_account: str
    recipient_name: str
    recipient_account: str


def parties(transfer: Transfer) -> Parties:
    """Both sides of a transfer as a receipt shows them (names masked)."""
    sender = db.session.get_one(User, transfer.sender_id)
    recipient = db.session.get_one(User, transfer.recipient_id)
    return Parties(
        mask_name(sender.full_name),
        sender.account_number or "",
        mask_name(recipient.full_name),
        recipient.account_number or "",
    )
