"""Use cases for transfers between customers: name enquiry, checks, send."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from lumipay import settings
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth.models import User
from lumipay.auth.names import mask_name
from lumipay.auth.nuban import is_valid_account_number
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.kyc import limits
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import InsufficientFunds
from lumipay.ledger.models import WALLET, Account
from lumipay.ledger.references import new_reference
from lumipay.money import MAX_MINOR, format_amount
from lumipay.refusals import INSUFFICIENT_FUNDS, Refused
from lumipay.transfers.models import Transfer, TransferStatus

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
    """Check a transfer without writing anything; raise TransferError naming the problem."""
    wallet = db.session.scalar(
        select(Account).where(
            Account.id == from_wallet_id, Account.user_id == user_id, Account.kind == WALLET
        )
    )
    if wallet is None:
        raise TransferError("from_wallet_id", "Choose one of your wallets.")
    if type(amount) is not int or amount <= 0 or amount > MAX_MINOR:
        raise TransferError("amount", "Enter an amount greater than zero.")
    clean_narration = re.sub(r"\s+", " ", narration or "").strip()
    if len(clean_narration) > NARRATION_MAX:
        raise TransferError("narration", f"Keep the narration to {NARRATION_MAX} characters.")
    number = (to_account_number or "").strip()
    if not re.fullmatch(r"\d{10}", number):
        raise TransferError("to_account_number", "Enter the 10-digit account number.")
    found = None
    if is_valid_account_number(settings.core().nuban_bank_code, number):
        # The recipient and their wallet in this currency, in one round trip.
        found = db.session.execute(
            select(User.id, User.full_name, Account.id)
            .outerjoin(
                Account,
                (Account.user_id == User.id)
                & (Account.currency == wallet.currency)
                & (Account.kind == WALLET),
            )
            .where(User.account_number == number)
        ).first()
    if found is None:
        raise TransferError("to_account_number", "No Lumipay account has that number.")
    recipient_id, recipient_name, to_wallet_id = found
    recipient = Recipient(recipient_id, number, mask_name(recipient_name))
    if recipient_id == user_id:
        raise TransferError(
            "to_account_number", "That is your own account. Choose another recipient."
        )
    if to_wallet_id is None:
        raise TransferError(
            "to_account_number",
            f"{recipient.masked_name} has no {wallet.currency} wallet to receive this.",
        )
    if wallet.available < amount:
        raise TransferError(
            "amount",
            "Insufficient available balance: you have "
            f"{format_amount(wallet.available, wallet.currency)} available.",
            code=INSUFFICIENT_FUNDS,
        )
    return TransferPlan(
        wallet.id, wallet.currency, amount, recipient, to_wallet_id, clean_narration
    )


@dataclass(frozen=True)
class SentTransfer:
    """What a customer gets back from sending: the reference, and whether it was a repeat."""

    reference: str
    replayed: bool


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

    The claim of the key, the transfer record, the audit row and the ledger posting commit in
    one database transaction. The wallets are locked last, so the locks are held only for the
    KYC limit checks (which need them: see lumipay.kyc.limits), the balance updates, the
    entries and the commit.
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

    def work() -> None:
        plan = plan_transfer(user_id, from_wallet_id, to_account_number, amount, narration)
        txn = ledger.begin("transfer", narration=plan.narration, reference=reference)
        transfer = Transfer(
            reference=reference,
            sender_id=user_id,
            recipient_id=plan.recipient.user_id,
            from_account_id=plan.from_wallet_id,
            to_account_id=plan.to_wallet_id,
            currency=plan.currency,
            amount=plan.amount,
            narration=plan.narration,
            status=TransferStatus.SUCCEEDED,
            transaction_id=txn.id,
            created_at=txn.created_at,
        )
        db.session.add(transfer)
        audit.record(
            "transfer",
            origin,
            actor_id=user_id,
            subject=reference,
            amount=plan.amount,
            currency=plan.currency,
            to_account_number=plan.recipient.account_number,
        )
        db.session.flush()

        def check(day: date) -> None:
            limits.lock_customers([user_id, plan.recipient.user_id])
            limits.check_outgoing(user_id, plan.currency, plan.amount, kind="transfer", day=day)
            limits.check_incoming(plan.to_wallet_id, plan.amount)

        try:
            ledger.apply(
                txn,
                [
                    ledger.Leg(plan.from_wallet_id, -plan.amount),
                    ledger.Leg(plan.to_wallet_id, plan.amount),
                ],
                check=check,
            )
        except InsufficientFunds as exc:
            raise TransferError("amount", exc.message, code=INSUFFICIENT_FUNDS) from None
        transfer.created_at = txn.created_at

    outcome, replayed = idempotency.run_once(
        user_id, idempotency_key, "transfer", payload, reference, work, replayable=replayable
    )
    return SentTransfer(outcome, replayed)


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
