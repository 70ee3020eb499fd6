"""Use cases for money in (top-ups) and out (payouts) through bank providers.

Top-ups: `start_topup` records what the customer asked for and gives payment instructions (a
reserved account in their name, or a provider checkout page). The money arrives by the
provider's webhook: `credit_payment` is the one place a top-up credits a wallet, from the
provider's clearing account, exactly once per provider transaction reference, with the amount
actually paid (a mismatch is credited as paid and flagged for reconciliation).

Payouts: `request_payout` places a hold and records the payout, awaiting an admin's approval
above PAYOUT_APPROVAL_THRESHOLD, else straight to the provider. `plan_payout` is the one place
the rules for a payout are checked, under the wallet's row lock. The job `submit_payout` calls
the provider with our reference as its idempotency key; `settle_locked` captures (wallet ->
clearing, then the fee to the fee account) or releases the hold. Anything unclear is requeried,
never released.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import g, has_request_context
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from lumipay import settings
from lumipay.audit import service as audit
from lumipay.audit.service import SYSTEM, Origin
from lumipay.auth.models import User
from lumipay.bank import reversals
from lumipay.bank.clearing import clearing_account
from lumipay.bank.models import (
    AWAITING_APPROVAL,
    PROCESSING,
    REJECTED,
    TOPUP_CREDITED,
    TOPUP_PENDING,
    TOPUP_RETURNED,
    TOPUP_UNCREDITED,
    Payout,
    ReservedAccount,
    TopUp,
)
from lumipay.database import newest, run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.inflight import engine
from lumipay.jobs import outbox
from lumipay.kyc import limits
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import InsufficientFunds
from lumipay.ledger.models import WALLET, Account, LedgerTransaction
from lumipay.ledger.references import new_reference
from lumipay.money import format_amount
from lumipay.notifications.service import notify
from lumipay.providers import (
    BANK_PROVIDERS,
    bank_list,
    bank_provider_for_event,
    bank_provider_named,
    bank_sandbox,
)
from lumipay.providers.bank import (
    AccountName,
    Bank,
    Outcome,
    Payment,
    PayoutRequest,
    PayoutResult,
    ProviderError,
)
from lumipay.refusals import INSUFFICIENT_FUNDS, Refused
from lumipay.webhooks import service as webhooks

log = logging.getLogger(__name__)

FEES = "fees"
# The API's problem types for refusals a client branches on (lumipay.api.problems).
KYC_TIER_REQUIRED = "kyc-tier-required"
SUBMIT = "lumipay.bank.jobs.submit_payout"
REQUERY = "lumipay.bank.jobs.requery_payout"
METHOD_LABELS = {
    "reserved_account": "bank transfer to your own account number",
    "checkout": "card or bank on a payment page",
}


class BankError(Refused):
    """A request refused with nothing changed; `field` names the form field it belongs to.

    `code` is the API's stable problem type for refusals a client may branch on (tier, limit,
    funds); None for the rest."""


def _wallet(user_id: int, currency: str = "NGN") -> Account | None:
    return db.session.scalar(
        select(Account).where(
            Account.user_id == user_id, Account.currency == currency, Account.kind == WALLET
        )
    )


# --- Top-ups -------------------------------------------------------------------------------


def topup_choices() -> list[tuple[str, str]]:
    """("provider:method", label) for every way in that the configured adapters offer."""
    choices = []
    for name in BANK_PROVIDERS:
        adapter = bank_provider_named(name)
        for method in adapter.topup_methods:
            choices.append((f"{name}:{method}", f"{adapter.label}: {METHOD_LABELS[method]}"))
    return choices


def _topup_choice(choice: str) -> tuple[str, str]:
    if choice not in dict(topup_choices()):
        raise BankError("method", "Choose how you'll pay.")
    provider, _, method = choice.partition(":")
    return provider, method


def _check_range(field: str, amount: int, low: int, high: int, what: str) -> None:
    if amount < low or amount > high:
        raise BankError(
            field, f"{what} must be from {format_amount(low)} to {format_amount(high)}."
        )


def reserved_account_for(user_id: int, provider: str) -> ReservedAccount:
    """The customer's dedicated account at `provider`, opened with the provider on first use.

    The account reference is stable per customer and provider, so a crash between the
    provider's answer and our commit asks for the same account again, never a second one.
    """
    existing = db.session.scalar(
        select(ReservedAccount).where(
            ReservedAccount.user_id == user_id, ReservedAccount.provider == provider
        )
    )
    if existing is not None:
        return existing
    user = db.session.get_one(User, user_id)
    reference = f"LP{provider[:3].upper()}{user.account_number or user.id}"
    try:
        opened = bank_provider_named(provider).reserve_account(
            reference, user.full_name, user.email
        )
    except ProviderError as exc:
        raise BankError("method", exc.message) from None

    def store() -> None:
        db.session.execute(
            postgresql.insert(ReservedAccount)
            .values(
                user_id=user_id,
                provider=provider,
                account_reference=opened.account_reference,
                account_number=opened.account_number,
                account_name=opened.account_name[:120],
                bank_name=opened.bank_name[:60],
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["user_id", "provider"])
        )

    run_in_transaction(store)
    return db.session.scalars(
        select(ReservedAccount).where(
            ReservedAccount.user_id == user_id, ReservedAccount.provider == provider
        )
    ).one()


@dataclass(frozen=True)
class StartedTopUp:
    reference: str
    replayed: bool


def start_topup(
    user_id: int,
    choice: str,
    amount: int,
    *,
    idempotency_key: str,
    origin: Origin,
    replayable: idempotency.Replayable | None = None,
) -> StartedTopUp:
    """Record a top-up the customer is about to pay, with its payment instructions.

    Network calls (opening the reserved account, starting the checkout) happen before the
    transaction; a repeat of the same key returns the first top-up.
    """
    provider, method = _topup_choice(choice)
    _check_range("amount", amount, settings.bank().topup_min, settings.bank().topup_max, "A top-up")
    reference = new_reference("TU")
    reserved = reserved_account_for(user_id, provider) if method == "reserved_account" else None
    checkout_url = None
    if method == "checkout":
        user = db.session.get_one(User, user_id)
        try:
            checkout = bank_provider_named(provider).start_checkout(
                reference, amount, "NGN", user.full_name, user.email
            )
        except ProviderError as exc:
            raise BankError("method", exc.message) from None
        checkout_url = checkout.checkout_url

    def work() -> None:
        wallet = _wallet(user_id)
        if wallet is None:
            raise BankError("amount", "You need an NGN wallet to top up.")
        limits.check_incoming(wallet.id, amount, own=True)
        db.session.add(
            _pending_topup(
                reference,
                user_id,
                wallet,
                provider,
                method,
                amount=amount,
                reserved_account_id=reserved.id if reserved else None,
                checkout_url=checkout_url,
            )
        )
        audit.record(
            "topup.start", origin, actor_id=user_id, subject=reference, amount=amount, via=choice
        )

    payload = {"choice": choice, "amount": amount}
    outcome, replayed = idempotency.run_once(
        user_id, idempotency_key, "topup", payload, reference, work, replayable=replayable
    )
    return StartedTopUp(outcome, replayed)


def credit_payment(provider: str, payment: Payment) -> TopUp | None:
    """Credit money the provider received, once per provider transaction reference.

    The one place a top-up credits a wallet; runs inside the caller's transaction (the webhook
    inbox's). Returns the top-up credited (or already credited), None when the payment names
    nothing of ours (logged for reconciliation).
    """
    if payment.amount <= 0:
        log.error("bank payment without an amount", extra={"ref": payment.provider_reference})
        return None
    already = _topup_by_provider_reference(provider, payment.provider_reference)
    if already is not None:
        log.info("payment already credited", extra={"ref": payment.provider_reference})
        return already
    topup, reserved = _matching_topup(provider, payment)
    if topup is None and reserved is None:
        log.error(
            "payment for nothing we know",
            extra={"provider": provider, "ref": payment.provider_reference},
        )
        return None
    # Re-checked under the top-up's lock: a twin delivery may have credited it meanwhile.
    twin = _topup_by_provider_reference(provider, payment.provider_reference)
    if twin is not None:
        return twin
    flag = None
    if topup is not None and topup.status != TOPUP_PENDING:
        flag = f"A second payment for top-up {topup.reference}."
        topup = _unsolicited(provider, topup.user_id, topup.reserved_account_id, topup.method)
    elif topup is None and reserved is not None:
        topup = _unsolicited(provider, reserved.user_id, reserved.id, "reserved_account")
    assert topup is not None  # the early return took a payment matching neither
    _credit(topup, payment, flag)
    return topup


def _unsolicited(
    provider: str, user_id: int, reserved_account_id: int | None, method: str
) -> TopUp:
    """A top-up row for money nobody asked for (the amount asked is None)."""
    wallet = (
        _wallet(user_id)
        or db.session.scalars(
            select(Account).where(Account.user_id == user_id).order_by(Account.id)
        ).first()
    )
    if wallet is None:
        raise LookupError(f"Customer {user_id} has no wallet to credit.")
    topup = _pending_topup(
        new_reference("TU"),
        user_id,
        wallet,
        provider,
        method,
        amount=None,
        reserved_account_id=reserved_account_id,
    )
    db.session.add(topup)
    db.session.flush()
    return topup


def _pending_topup(
    reference: str,
    user_id: int,
    wallet: Account,
    provider: str,
    method: str,
    *,
    amount: int | None,
    reserved_account_id: int | None,
    checkout_url: str | None = None,
) -> TopUp:
    """A new top-up into `wallet`, waiting for the money (`amount` None: nobody asked for it)."""
    return TopUp(
        reference=reference,
        user_id=user_id,
        account_id=wallet.id,
        provider=provider,
        method=method,
        currency="NGN",
        amount=amount,
        status=TOPUP_PENDING,
        reserved_account_id=reserved_account_id,
        checkout_url=checkout_url,
        created_at=utcnow(),
    )


def _topup_by_provider_reference(provider: str, provider_reference: str) -> TopUp | None:
    return db.session.scalar(
        select(TopUp).where(
            TopUp.provider == provider, TopUp.provider_reference == provider_reference[:64]
        )
    )


def _locked_topup(*conditions: Any) -> TopUp | None:
    return db.session.scalars(
        select(TopUp)
        .where(*conditions)
        .order_by(TopUp.id)
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _matching_topup(provider: str, payment: Payment) -> tuple[TopUp | None, ReservedAccount | None]:
    """The top-up a payment settles (locked), and the reserved account it was paid into."""
    if payment.account_reference:
        reserved = db.session.scalar(
            select(ReservedAccount).where(
                ReservedAccount.provider == provider,
                ReservedAccount.account_reference == payment.account_reference,
            )
        )
        if reserved is None:
            return None, None
        pending = _locked_topup(
            TopUp.reserved_account_id == reserved.id, TopUp.status == TOPUP_PENDING
        )
        return pending, reserved
    if payment.reference:
        return _locked_topup(TopUp.provider == provider, TopUp.reference == payment.reference), None
    return None, None


def _credit(topup: TopUp, payment: Payment, flag: str | None) -> None:
    topup.provider_reference = payment.provider_reference[:64]
    topup.amount_paid = payment.amount
    topup.currency_paid = payment.currency
    topup.payer = payment.payer[:120] or None
    reasons = [flag] if flag else []
    if payment.currency != topup.currency:
        reasons.append(f"Paid in {payment.currency}, asked in {topup.currency}.")
    elif topup.amount is not None and payment.amount != topup.amount:
        reasons.append(
            f"Paid {format_amount(payment.amount, payment.currency)}, "
            f"asked {format_amount(topup.amount, topup.currency)}."
        )
    topup.flagged_reason = " ".join(reasons)[:200] or None
    wallet = _wallet(topup.user_id, payment.currency)
    if wallet is None:
        # Money in a currency the customer holds no wallet for: a person must settle it.
        topup.move_to(TOPUP_UNCREDITED)
        topup.flagged_reason = (
            f"{topup.flagged_reason or ''} No {payment.currency} wallet to credit.".strip()[:200]
        )
        log.error("payment could not be credited", extra={"reference": topup.reference})
        return
    # One lock order (DESIGN rule 8): the top-up, then the wallet, then the customer.
    ledger.lock_wallets([wallet.id])
    try:
        limits.check_incoming(wallet.id, payment.amount, own=True)
    except limits.LimitExceeded:
        # The money has arrived and can't be refused back to the payer from here: it waits,
        # uncredited, for a person to return it or credit it once the customer's tier allows.
        topup.move_to(TOPUP_UNCREDITED)
        topup.flagged_reason = (
            f"{topup.flagged_reason or ''} Over the customer's maximum balance.".strip()[:200]
        )
        notify(
            topup.user_id,
            "Top-up waiting",
            f"{format_amount(payment.amount, payment.currency)} arrived but would take you past "
            "your tier's maximum balance. Verify your identity on the Verification page; our "
            "team will credit or return it.",
            link=f"/bank/topups/{topup.reference}",
        )
        log.error("payment over the maximum balance", extra={"reference": topup.reference})
        return
    _post_credit(topup, wallet, payment.amount)


def _post_credit(
    topup: TopUp, wallet: Account, amount: int, *, reference: str | None = None
) -> LedgerTransaction:
    """Credit what arrived for a top-up from the provider's clearing account (the wallet is
    checked against the limits by the caller)."""
    label = bank_provider_named(topup.provider).label
    topup.account_id = wallet.id
    txn = ledger.post(
        "bank_topup",
        [
            ledger.Leg(clearing_account(topup.provider, wallet.currency).id, -amount),
            ledger.Leg(wallet.id, amount),
        ],
        narration=f"Top-up via {label}",
        reference=reference,
    )
    topup.transaction_id = txn.id
    topup.move_to(TOPUP_CREDITED)
    reversals.repay_owed(topup)
    notify(
        topup.user_id,
        "Money in",
        f"{format_amount(amount, wallet.currency)} from your {label} top-up is in your wallet.",
        link=f"/bank/topups/{topup.reference}",
    )
    return txn


def settle_topup_by_hand(
    reference: str, *, expected: str, credit: bool, ledger_reference: str
) -> LedgerTransaction | None:
    """A person's verdict on money that arrived but was left uncredited (an approved
    settlement), in the caller's transaction: credit it now (the limits re-checked under the
    top-up's, the wallet's and the customer's locks), or record it returned to the payer.
    Refused (engine.Refused) unless the top-up is still `expected`."""
    topup = _locked_topup(TopUp.reference == reference)
    if topup is None:
        raise engine.Refused("No such top-up.")
    if topup.status != expected:
        raise engine.Refused(
            f"This top-up was {expected} when proposed and is {topup.status} now: "
            "reject this proposal and propose again if it still needs settling."
        )
    if topup.status != TOPUP_UNCREDITED or topup.amount_paid is None:
        raise engine.Refused(f"This top-up is {topup.status}: there is nothing to settle.")
    if not credit:
        topup.move_to(TOPUP_RETURNED)
        notify(
            topup.user_id,
            "Top-up returned",
            f"{format_amount(topup.amount_paid, topup.currency_paid or topup.currency)} that "
            "could not be credited is being returned to the payer.",
            link=f"/bank/topups/{topup.reference}",
        )
        return None
    currency = topup.currency_paid or topup.currency
    wallet = _wallet(topup.user_id, currency)
    if wallet is None:
        raise engine.Refused(f"The customer has no {currency} wallet to credit.")
    wallet = ledger.lock_wallets([wallet.id])[wallet.id]
    try:
        limits.check_incoming(wallet.id, topup.amount_paid, own=True)
    except limits.LimitExceeded as exc:
        raise engine.Refused(f"Not credited: {exc.message}") from None
    return _post_credit(topup, wallet, topup.amount_paid, reference=ledger_reference)


def sandbox_pay(user_id: int, reference: str, amount: int) -> None:
    """The sandbox checkout's "Pay" (or a transfer into the reserved account): the sandbox
    provider receives the money and its webhook follows. Sandbox mode only."""
    topup = topup_for(user_id, reference)
    if topup is None:
        raise BankError(None, "No such top-up.")
    _check_range("amount", amount, 1, settings.bank().topup_max, "A payment")
    if topup.method == "checkout" and topup.status != TOPUP_PENDING:
        raise BankError("amount", "This payment page has already been paid.")
    reserved = db.session.get(ReservedAccount, topup.reserved_account_id or 0)
    bank_sandbox.pay_into(
        amount=amount,
        currency=topup.currency,
        reference=topup.reference if topup.method == "checkout" else None,
        account_reference=reserved.account_reference if reserved else None,
    )


# --- Payouts --------------------------------------------------------------------------------


def payout_provider_name() -> str:
    return str(settings.bank().payout_provider)


def banks() -> list[Bank]:
    """The payout provider's banks, by name; empty (with a log line) when it can't answer.

    Kept between requests (lumipay.providers.bank_list) and read once per request (the form
    and its checks all need the list)."""
    cached = has_request_context() and "bank_list" in g
    if cached:
        return list(g.bank_list)
    name = payout_provider_name()
    found = bank_list.banks(name, lambda: bank_provider_named(name).banks())
    ordered = sorted(found or [], key=lambda bank: bank.name)
    if has_request_context():
        g.bank_list = ordered
    return list(ordered)


def _bank(bank_code: str) -> Bank:
    bank = {b.code: b for b in banks()}.get(bank_code or "")
    if bank is None:
        raise BankError("bank_code", "Choose the bank.")
    return bank


def _account_number(text: str) -> str:
    number = re.sub(r"[\s-]", "", text or "")
    if not re.fullmatch(r"\d{10}", number):
        raise BankError("account_number", "Enter the 10-digit account number.")
    return number


def name_enquiry(bank_code: str, account_number: str) -> AccountName:
    """The holder of an account at another bank, from the name-enquiry provider."""
    bank = _bank(bank_code)
    number = _account_number(account_number)
    provider = bank_provider_named(settings.bank().name_enquiry_provider)
    try:
        return provider.name_enquiry(bank.code, number)
    except ProviderError as exc:
        raise BankError("account_number", exc.message) from None


@dataclass(frozen=True)
class PayoutDetails:
    """A payout checked against the provider (bank, account holder), before any money moves."""

    provider: str
    bank_code: str
    bank_name: str
    account_number: str
    account_name: str
    amount: int
    fee: int
    narration: str
    currency: str = "NGN"

    @property
    def total(self) -> int:
        return self.amount + self.fee


def check_payout(bank_code: str, account_number: str, amount: int, narration: str) -> PayoutDetails:
    """Step one: validate and look the account's holder up (a network call)."""
    _check_range(
        "amount", amount, settings.bank().payout_min, settings.bank().payout_max, "A payout"
    )
    holder = name_enquiry(bank_code, account_number)
    return PayoutDetails(
        provider=payout_provider_name(),
        bank_code=holder.bank_code,
        bank_name=_bank(holder.bank_code).name,
        account_number=holder.account_number,
        account_name=holder.account_name,
        amount=amount,
        fee=settings.bank().payout_fee,
        narration=(narration or "").strip()[:100],
    )


@dataclass(frozen=True)
class PayoutPlan:
    details: PayoutDetails
    needs_approval: bool
    hold_expires_at: datetime


def payout_refusal(user_id: int, *, tier: int | None = None) -> str | None:
    """Why the customer can't pay out yet (their KYC tier), shown before they fill the form
    (`tier`, when the caller has read it: kyc.limits.payout_refusal)."""
    return limits.payout_refusal(user_id, tier=tier)


def plan_payout(
    user_id: int, wallet: Account, details: PayoutDetails, *, preview: bool = False
) -> PayoutPlan:
    """Every rule a payout must pass, checked inside its transaction with the wallet locked.

    Raises BankError naming the rule: Tier 2 and above only, the available balance, then the
    one gate for outgoing money (not frozen, the KYC limits on the amount with its fee).
    `preview` is step one's reading of the same rules without locks (the form says what is
    wrong before the confirm step); the confirm step decides under the locks.
    """
    if wallet.user_id != user_id or wallet.currency != details.currency:
        raise BankError("amount", "You need an NGN wallet to pay out.")
    refusal = payout_refusal(user_id)
    if refusal is not None:
        raise BankError("amount", refusal, code=KYC_TIER_REQUIRED)
    if wallet.available < details.total:
        raise BankError(
            "amount",
            f"Insufficient available balance. You have {format_amount(wallet.available)} "
            f"available and this costs {format_amount(details.total)} with the fee.",
            code=INSUFFICIENT_FUNDS,
        )
    gate = limits.preview_outgoing if preview else limits.check_outgoing
    gate(user_id, wallet.currency, details.total, kind="payout")
    return PayoutPlan(
        details,
        needs_approval=details.amount > settings.bank().payout_approval_threshold,
        hold_expires_at=utcnow() + timedelta(days=settings.bank().payout_hold_days),
    )


def preview_payout(user_id: int, details: PayoutDetails) -> PayoutPlan:
    """Step one of a payout: `plan_payout`'s rules on the wallet as it stands, nothing locked."""
    wallet = _wallet(user_id, details.currency)
    if wallet is None:
        raise BankError("amount", "You need an NGN wallet to pay out.")
    return plan_payout(user_id, wallet, details, preview=True)


@dataclass(frozen=True)
class RequestedPayout:
    reference: str
    replayed: bool


def request_payout(
    user_id: int,
    details: PayoutDetails,
    *,
    idempotency_key: str,
    origin: Origin,
    replayable: idempotency.Replayable | None = None,
    step_up: bool | str = False,
) -> RequestedPayout:
    """Hold the money and record the payout; it waits for approval or goes to a job."""
    reference = new_reference("PO")

    def work() -> None:
        wallet = _wallet(user_id, details.currency)
        if wallet is None:
            raise BankError("amount", "You need an NGN wallet to pay out.")
        wallet = ledger.lock_wallets([wallet.id])[wallet.id]
        plan = plan_payout(user_id, wallet, details)
        payout = Payout(
            reference=reference,
            user_id=user_id,
            account_id=wallet.id,
            provider=details.provider,
            bank_code=details.bank_code,
            bank_name=details.bank_name[:60],
            account_number=details.account_number,
            account_name=details.account_name[:120],
            currency=details.currency,
            amount=details.amount,
            fee=details.fee,
            narration=details.narration,
            status=AWAITING_APPROVAL if plan.needs_approval else PROCESSING,
            created_at=utcnow(),
        )
        try:
            engine.place(
                PAYOUTS,
                payout,
                expires_at=plan.hold_expires_at,
                reason=f"Payout to {details.account_name} {details.account_number}",
                submit=not plan.needs_approval,
                action="payout.request",
                origin=origin,
                bank_code=details.bank_code,
                account_number=details.account_number,
            )
        except InsufficientFunds as exc:
            raise BankError("amount", exc.message, code=INSUFFICIENT_FUNDS) from None
        if plan.needs_approval:
            notify(
                user_id,
                "Payout awaiting approval",
                f"{format_amount(details.amount)} to {details.account_name} is held on your "
                "wallet until we approve it.",
                link=f"/bank/payouts/{reference}",
            )

    payload = {
        "bank_code": details.bank_code,
        "account_number": details.account_number,
        "amount": details.amount,
        "narration": details.narration,
        "step_up": step_up,  # how the debit was authorised (lumipay.auth.debits)
    }
    outcome, replayed = idempotency.run_once(
        user_id, idempotency_key, "payout", payload, reference, work, replayable=replayable
    )
    return RequestedPayout(outcome, replayed)


class Payouts(engine.Kind):
    """A payout, as the held-operation engine sees it."""

    model = Payout
    owner = "payout"
    result_type = PayoutResult
    settings_prefix = "PAYOUT"
    queue = "bank"
    submit_job, requery_job = SUBMIT, REQUERY

    def adapter(self, op: Payout) -> Any:
        return bank_provider_named(op.provider)

    def send(self, op: Payout) -> PayoutResult:
        return bank_provider_named(op.provider).send_payout(payout_request(op))

    def status(self, op: Payout) -> PayoutResult:
        return bank_provider_named(op.provider).payout_status(payout_request(op))

    def clearing(self, op: Payout) -> Account:
        return clearing_account(op.provider, op.currency)

    def capture_kind(self, op: Payout) -> str:
        return "bank_payout"

    def narration(self, op: Payout) -> str:
        return f"Payout to {op.account_name} {op.bank_name}"

    def succeeded(self, op: Payout, result: PayoutResult) -> None:
        op.message = "Paid."
        _tell(op, "Payout paid", f"paid into {op.bank_name} {op.account_number}.")

    def failed(self, op: Payout, result: PayoutResult) -> None:
        if op.status == REJECTED:
            return
        op.message = (result.message or "The bank could not be paid.")[:200]
        _tell(op, "Payout failed", f"{format_amount(op.total)} is back in your available balance.")

    def refunded(self, op: Payout) -> None:
        op.message = "Refunded by our team."
        _tell(op, "Payout refunded", f"{format_amount(op.total)} is back in your wallet.")

    def expired(self, op: Payout) -> None:
        op.move_to(REJECTED)
        op.rejection_reason = "The hold on your wallet expired before approval."
        audit.record("payout.expire", SYSTEM, subject=op.reference)
        _tell(op, "Payout rejected", f"{op.rejection_reason} Nothing was sent.")


PAYOUTS = Payouts()
# The payouts' own use cases are the engine's, bound to payouts (jobs, webhooks, settlements).
submit, requery, apply_result, sweep = (
    PAYOUTS.submit, PAYOUTS.requery, PAYOUTS.apply_result, PAYOUTS.sweep
)  # fmt: skip
settle_payout_by_hand = PAYOUTS.settle_by_hand


def _reviewable(reference: str) -> Payout:
    payout = engine.by_reference(PAYOUTS, reference)
    if not isinstance(payout, Payout):
        raise BankError(None, "No such payout.")
    if payout.status != AWAITING_APPROVAL:
        raise BankError(None, f"This payout is already {payout.status.replace('_', ' ')}.")
    return payout


def approve_payout(admin_id: int, reference: str, *, origin: Origin) -> Payout:
    """An admin approves: the payout goes to the provider by a job.

    Re-checked now, under the payout's lock, its hold's, the wallet's and the customer's: still
    awaiting approval, the hold still active, the customer not frozen and within the KYC limits.
    A refusal (BankError) changes nothing; the payout still awaits a decision.
    """

    def work() -> Payout:
        payout = _reviewable(reference)
        hold = engine.lock_hold(payout)
        try:
            engine.recheck_customer(PAYOUTS, payout, hold)
        except engine.Refused as exc:
            raise BankError(None, exc.message, code=exc.code) from None
        refusal = payout_refusal(payout.user_id)  # the tier, read under the customer's lock
        if refusal is not None:
            raise BankError(None, refusal, code=KYC_TIER_REQUIRED)
        payout.reviewed_by, payout.reviewed_at = admin_id, utcnow()
        payout.move_to(PROCESSING)
        audit.record("payout.approve", origin, actor_id=admin_id, subject=reference)
        _tell(payout, "Payout approved", "It is on its way to the bank.")
        outbox.add(SUBMIT, reference, queue="bank")
        return payout

    return run_in_transaction(work)


def reject_payout(admin_id: int, reference: str, reason: str, *, origin: Origin) -> Payout:
    """An admin rejects with a reason the customer sees; the hold is released."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise BankError("reason", "Give the customer a reason.")

    def work() -> Payout:
        payout = _reviewable(reference)
        payout.rejection_reason = reason[:200]
        payout.reviewed_by, payout.reviewed_at = admin_id, utcnow()
        engine.release(PAYOUTS, payout, PayoutResult(Outcome.FAILED, reason), target=REJECTED)
        audit.record("payout.reject", origin, actor_id=admin_id, subject=reference, reason=reason)
        _tell(
            payout,
            "Payout rejected",
            f"{reason[:200]} {format_amount(payout.total)} is back in your available balance.",
        )
        return payout

    return run_in_transaction(work)


def _tell(payout: Payout, title: str, body: str) -> None:
    notify(
        payout.user_id,
        title,
        f"{format_amount(payout.amount, payout.currency)} to {payout.account_name}: {body}",
        link=f"/bank/payouts/{payout.reference}",
    )


def payout_request(payout: Payout) -> PayoutRequest:
    return engine.request_for(PayoutRequest, payout)


def apply_webhook(event_type: str, data: dict[str, Any]) -> str | None:
    """The bank channel's webhook handler; runs inside the inbox's transaction. Returns the
    inbox outcome when it is not plainly "processed" (news nobody could read is "unhandled")."""
    provider = bank_provider_for_event(event_type)
    if provider is None:
        return reversals.unhandled(event_type, "No bank provider of ours sends this event type.")
    event = provider.read_webhook(event_type, data)
    if event.unhandled is not None:
        return reversals.unhandled(event_type, event.unhandled)
    if event.reversal is not None:
        return reversals.reverse_credit(provider.name, event.reversal)
    if event.payment is not None:
        credit_payment(provider.name, event.payment)
    if event.payout_reference and event.payout_result is not None:
        payout = engine.by_reference(PAYOUTS, event.payout_reference)
        if payout is None or payout.provider != provider.name:
            log.warning("webhook for an unknown payout", extra={"ref": event.payout_reference})
            return None
        engine.settle_locked(PAYOUTS, payout, event.payout_result, schedule_requery=False)
    return None


# --- Reading --------------------------------------------------------------------------------


def topups_for(user_id: int, limit: int = 20) -> list[TopUp]:
    return list(
        db.session.scalars(
            select(TopUp).where(TopUp.user_id == user_id).order_by(TopUp.id.desc()).limit(limit)
        )
    )


def payouts_for(user_id: int, limit: int = 20) -> list[Payout]:
    return list(
        db.session.scalars(
            select(Payout).where(Payout.user_id == user_id).order_by(Payout.id.desc()).limit(limit)
        )
    )


def topup_for(user_id: int, reference: str) -> TopUp | None:
    """The customer's own top-up, else None (another customer's reference is a 404)."""
    topup = db.session.scalar(select(TopUp).where(TopUp.reference == reference))
    return topup if topup is not None and topup.user_id == user_id else None


def payout_for(user_id: int, reference: str) -> Payout | None:
    payout = db.session.scalar(select(Payout).where(Payout.reference == reference))
    return payout if payout is not None and payout.user_id == user_id else None


def reserved_account_of(topup: TopUp) -> ReservedAccount | None:
    if topup.reserved_account_id is None:
        return None
    return db.session.get(ReservedAccount, topup.reserved_account_id)


def payouts_to_review() -> list[Payout]:
    return list(
        db.session.scalars(
            select(Payout).where(Payout.status == AWAITING_APPROVAL).order_by(Payout.id)
        )
    )


def recent_payouts(limit: int = 50) -> list[Payout]:
    return newest(Payout, Payout.status != AWAITING_APPROVAL, limit=limit)


def customer_names(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = db.session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}


webhooks.register_handler("bank", apply_webhook)
