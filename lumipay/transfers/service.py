"""Use cases for transfers between customers: name enquiry, checks, send."""

from __future__ import annotations

import functools
import re
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from flask import current_app
from sqlalchemy import Boolean, Table, bindparam, exists, insert, select
from sqlalchemy.exc import DBAPIError

from lumipay import settings
from lumipay.audit import service as audit
from lumipay.audit.models import AuditEvent
from lumipay.audit.service import Origin
from lumipay.auth.models import User
from lumipay.auth.names import mask_name
from lumipay.auth.nuban import is_valid_account_number
from lumipay.database import PreparedStatement, autocommit, run_in_transaction
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


def plan_transfer(
    user_id: int, from_wallet_id: int, to_account_number: str, amount: int, narration: str
) -> TransferPlan:
    """Check a transfer without writing anything; raise TransferError naming the problem.

    One statement reads the sender's wallet, the recipient and their wallet in its currency;
    the refusals come in the same order whatever it found."""
    number = (to_account_number or "").strip()
    lookup = re.fullmatch(r"\d{10}", number) is not None and is_valid_account_number(
        settings.core().nuban_bank_code, number
    )
    found = _PLAN.execute(
        {"number": number, "lookup": lookup, "wallet_id": from_wallet_id, "user_id": user_id}
    ).first()
    if found is None:
        raise TransferError("from_wallet_id", "Choose one of your wallets.")
    currency, available, recipient_id, recipient_name, to_wallet_id = found
    if type(amount) is not int or amount <= 0 or amount > MAX_MINOR:
        raise TransferError("amount", "Enter an amount greater than zero.")
    clean_narration = re.sub(r"\s+", " ", narration or "").strip()
    if len(clean_narration) > NARRATION_MAX:
        raise TransferError("narration", f"Keep the narration to {NARRATION_MAX} characters.")
    if not re.fullmatch(r"\d{10}", number):
        raise TransferError("to_account_number", "Enter the 10-digit account number.")
    if recipient_id is None:
        raise TransferError("to_account_number", "No Lumipay account has that number.")
    recipient = Recipient(recipient_id, number, mask_name(recipient_name))
    if recipient_id == user_id:
        raise TransferError(
            "to_account_number", "That is your own account. Choose another recipient."
        )
    if to_wallet_id is None:
        raise TransferError(
            "to_account_number",
            f"{recipient.masked_name} has no {currency} wallet to receive this.",
        )
    if available < amount:
        raise TransferError(
            "amount",
            "Insufficient available balance: you have "
            f"{format_amount(available, currency)} available.",
            code=INSUFFICIENT_FUNDS,
        )
    return TransferPlan(from_wallet_id, currency, amount, recipient, to_wallet_id, clean_narration)


@dataclass(frozen=True)
class SentTransfer:
    """What a customer gets back from sending: the reference, and whether it was a repeat."""

    reference: str
    replayed: bool


class _NeedsRates(Exception):
    """The limits were weighed without FX rates and need them: ask again with them."""


_accounts, _users = Account.__table__, User.__table__
_recipient_wallet = _accounts.alias("recipient_wallet")
# The plan's one read, built once: the sender's wallet, the recipient and their wallet in its
# currency (the recipient is looked up only when the number is a valid NUBAN: `lookup`).
_PLAN = PreparedStatement(
    "lumipay_transfer_plan",
    select(
        _accounts.c.currency,
        _accounts.c.balance - _accounts.c.held,
        _users.c.id,
        _users.c.full_name,
        _recipient_wallet.c.id,
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
    ),
)

_TRANSFER_COLUMNS = (
    "reference",
    "sender_id",
    "recipient_id",
    "from_account_id",
    "to_account_id",
    "currency",
    "amount",
    "narration",
    "status",
)
_AUDIT_COLUMNS = ("actor_id", "action", "subject", "details", "ip", "user_agent")


@functools.cache
def _posting_statement(claimed: bool) -> PreparedStatement:
    """One statement for the whole transfer, built once: the key's claim (when `claimed`), the
    posting (which locks the wallets, then the customers, and weighs the KYC limits), the
    transfer row and its audit row. With a claim that found the key taken, nothing else runs
    and no row comes back."""
    call = ledger.POSTING_CALL
    posted = select(call.c.transaction_id, call.c.created_at)
    if claimed:
        claim = idempotency.CLAIM.cte("claim")
        posted = posted.where(exists(select(claim.c.id)))
    posted_cte = posted.cte("posted")
    transfers = cast(Table, Transfer.__table__)
    transfer = (
        insert(transfers)
        .from_select(
            [*_TRANSFER_COLUMNS, "transaction_id", "created_at"],
            select(
                *(
                    bindparam(f"t_{name}", type_=transfers.c[name].type)
                    for name in _TRANSFER_COLUMNS
                ),
                posted_cte.c.transaction_id,
                posted_cte.c.created_at,
            ),
            # public_id from the server default: the statement is the same every call.
            include_defaults=False,
        )
        .returning(transfers.c.id)
        .cte("transfer")
    )
    events = cast(Table, AuditEvent.__table__)
    audited = (
        insert(events)
        .from_select(
            [*_AUDIT_COLUMNS, "created_at"],
            select(
                *(bindparam(f"a_{name}", type_=events.c[name].type) for name in _AUDIT_COLUMNS),
                posted_cte.c.created_at,
            ),
            include_defaults=False,
        )
        .returning(events.c.id)
        .cte("audited")
    )
    return PreparedStatement(
        f"lumipay_transfer_{'claimed' if claimed else 'posted'}",
        select(
            posted_cte.c.transaction_id,
            select(transfer.c.id).scalar_subquery(),
            select(audited.c.id).scalar_subquery(),
        ),
    )


def _posting_params(
    user_id: int,
    plan: TransferPlan,
    reference: str,
    origin: Origin,
    *,
    rates: bool,
    claim: idempotency.Claim | None,
) -> dict[str, Any]:
    params = ledger.posting_params(
        "transfer",
        [
            ledger.Leg(plan.from_wallet_id, -plan.amount),
            ledger.Leg(plan.to_wallet_id, plan.amount),
        ],
        reference=reference,
        narration=plan.narration,
        limits=limits.movement_limits(
            out=(user_id, plan.currency, plan.amount, 0),
            incoming=[(plan.to_wallet_id, plan.amount)],
            rates=rates,
        ),
        at=ledger.locked_time([plan.from_wallet_id, plan.to_wallet_id]),
    )
    transfer = {
        "reference": reference,
        "sender_id": user_id,
        "recipient_id": plan.recipient.user_id,
        "from_account_id": plan.from_wallet_id,
        "to_account_id": plan.to_wallet_id,
        "currency": plan.currency,
        "amount": plan.amount,
        "narration": plan.narration,
        "status": "succeeded",
    }
    params.update({f"t_{name}": value for name, value in transfer.items()})
    event = audit.row(
        "transfer",
        origin,
        actor_id=user_id,
        subject=reference,
        amount=plan.amount,
        currency=plan.currency,
        to_account_number=plan.recipient.account_number,
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
    together. A page form's transfer is two statements: the plan (one read) and one statement
    carrying the claim, the posting (lumipay.ledger's `ledger_post`), the transfer row and the
    audit row; on a session with no transaction open each runs on its own (autocommit), so a
    transfer is two round trips. The JSON API's (whose response is stored with the claim) and a
    repeat that may only replay go through `idempotency.run_once`, with the same posting
    statement inside its transaction.
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

    def post(rates: bool, claim: idempotency.Claim | None) -> bool:
        """Plan and post; False when the claim found the key already taken."""
        plan = plan_transfer(user_id, from_wallet_id, to_account_number, amount, narration)
        params = _posting_params(user_id, plan, reference, origin, rates=rates, claim=claim)
        try:
            row = _posting_statement(claim is not None).execute(params).first()
        except DBAPIError as exc:
            refused = ledger.posting_error(exc)
            if isinstance(refused, LimitRefused):
                if refused.refusal.get("code") == "rates" and not rates:
                    raise _NeedsRates() from None
                raise limits.refusal_error(refused.refusal, kind="transfer") from None
            if isinstance(refused, InsufficientFunds):
                raise TransferError("amount", refused.message, code=INSUFFICIENT_FUNDS) from None
            raise
        return row is not None

    def in_one_statement(rates: bool, claim: idempotency.Claim) -> tuple[str, bool]:
        # A test clock is read under wallet locks taken first, so it keeps one transaction.
        with autocommit() if current_app.config.get("CLOCK") is None else nullcontext():
            claimed = post(rates, claim)
        if claimed:
            return reference, False
        return claim.replay(), True

    def in_run_once(rates: bool) -> tuple[str, bool]:
        def work() -> None:
            post(rates, None)

        return idempotency.run_once(
            user_id, idempotency_key, "transfer", payload, reference, work, replayable=replayable
        )

    for rates in (False, True):
        try:
            if claim is None:
                outcome, replayed = in_run_once(rates)
            else:
                outcome, replayed = run_in_transaction(partial(in_one_statement, rates, claim))
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
