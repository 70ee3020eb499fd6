"""Authorise this debit: the one check every money-moving confirm step calls, pages and API.

`authorise_debit` decides and checks, in this order:

1. The transaction PIN. Pages always ask for it. Over the API it comes in `X-Transaction-PIN`
   once the customer has set one; a customer who has not set one yet may debit over the API
   only within Tier 1 amounts (so the README's examples run on a fresh registration), and
   never anything that needs step-up.
2. Step-up, by value and by the day's total: an amount above `STEP_UP_THRESHOLD`
   (`STEP_UP_THRESHOLD_FOREIGN` for foreign wallets), a day (the Lagos day) whose debits with
   this one pass `STEP_UP_DAILY_THRESHOLD`, and the first payment to an account never paid
   before. The factor is the authenticator app's code when two-step verification is on;
   without it, the PIN plus, above the thresholds, a one-time code we email (bound to this
   debit: kind, currency, amount, payee).
3. A resubmitted request whose key completed inside its replay window skips the one-time
   factors (they were used up) but not the PIN; `Authorised.step_up` goes into the request's
   idempotency fingerprint, so an old key can never stand in for step-up.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Exists,
    Label,
    String,
    bindparam,
    func,
    literal_column,
    select,
)

from lumipay import clock, settings
from lumipay.audit.models import AuditEvent
from lumipay.audit.service import Origin
from lumipay.auth import pin as pins
from lumipay.auth import service as auth
from lumipay.auth import twofactor
from lumipay.auth.models import User
from lumipay.database import PreparedStatement, as_utc, run_in_transaction
from lumipay.extensions import db
from lumipay.idempotency.models import IdempotencyRecord
from lumipay.idempotency.service import REPLAY_ONLY
from lumipay.ledger.models import WALLET, Account, DailyFlow, Hold, HoldStatus
from lumipay.notifications.email import send_email
from lumipay.refusals import Refused

EMAIL_CODE_SECONDS = 10 * 60
STEP_UP_PURPOSE = "step_up:"

# Kinds of debit, as the customer reads them in the emailed code's message.
KINDS = {
    "transfer": "a transfer",
    "payout": "a payout to another bank",
    "bill": "a bill payment",
    "conversion": "a currency conversion",
    "card_reveal": "showing your card's details",
    "card_issue": "a new card",
}


class DebitRefused(Refused):
    """Not authorised; `code` is the API problem type, `field` the form field to show it on."""

    field: str
    code: str

    def __init__(self, code: str, field: str, message: str, *, signed_out: bool = False) -> None:
        super().__init__(field, message, code=code)
        # The refusal locked the sign-in (wrong app codes): the page signs the browser out.
        self.signed_out = signed_out


@dataclass(frozen=True)
class Debit:
    kind: str
    currency: str
    amount: int
    payee: str | None = None  # the account paid (transfers, payouts): first payments step up


@dataclass(frozen=True)
class Proof:
    pin: str | None = None
    otp_code: str | None = None
    email_code: str | None = None


@dataclass(frozen=True)
class Authorised:
    step_up: bool
    # A repeat of a completed request: its one-time factors were skipped, so it may only replay.
    replay: bool = False

    @property
    def fingerprint(self) -> bool | str:
        """What the request's idempotency payload records under "step_up"."""
        return REPLAY_ONLY if self.replay else self.step_up


@dataclass(frozen=True)
class Needs:
    """What the confirm step must ask for (pages render their fields from it)."""

    pin: bool
    step_up: bool
    otp: bool
    email_code: bool


def _threshold(currency: str) -> int:
    return twofactor.step_up_threshold(currency)


# The weighing's values, bound when it runs: its statements are built once per shape.
_USER: BindParameter[int] = bindparam("user_id")
_CURRENCY: BindParameter[str] = bindparam("currency")


def _spent_today() -> ColumnElement[int]:
    """What left the customer's `currency` wallets since the Lagos day began (minor units),
    plus what their active holds reserve (payouts and bills in flight), as the KYC limits
    count a day: money held at a provider has left the customer just the same.

    What left is read from the ledger's daily flows (`money_out` per wallet, Lagos day and
    kind, kept with every posting and checked against the entries by `flask ledger verify`):
    a few rows however many payments the day has seen, where summing the day's entries read
    one row per payment on every confirm page. Binds user_id, currency and day."""
    wallets = select(Account.id).where(
        Account.user_id == _USER, Account.kind == WALLET, Account.currency == _CURRENCY
    )
    posted = (
        select(func.coalesce(func.sum(DailyFlow.money_out), 0))
        .where(DailyFlow.account_id.in_(wallets), DailyFlow.day >= bindparam("day"))
        .scalar_subquery()
    )
    held = (
        select(func.coalesce(func.sum(Hold.amount), 0))
        .where(Hold.account_id.in_(wallets), Hold.status == HoldStatus.ACTIVE)
        .scalar_subquery()
    )
    return posted + held


def _daily_threshold(currency: str) -> int:
    if currency == "NGN":
        return int(settings.auth().step_up_daily_threshold)
    return int(settings.auth().step_up_daily_threshold_foreign)


def _detail(name: str) -> ColumnElement[str]:
    """An audit row's detail as text: `details ->> 'name'`, the key written in the statement
    (not bound), as the payee indexes on audit_events are (migration efa93d6bbbf0)."""
    assert name.isidentifier()  # a key of ours, never input
    return AuditEvent.details.op("->>", return_type=String)(literal_column(f"'{name}'"))


def _paid_before(lumipay: bool) -> Exists:
    """Whether money already went to this account: read from the audit rows the transfer and
    payout services write in the same transaction as the money, so the answer changes exactly
    when a payment commits (two confirm steps of one form can't decide differently). Binds
    user_id, number and (another bank's) bank_code."""
    # The action written in the statement too: a prepared statement's generic plan can use a
    # partial index only when its predicate is in the SQL itself.
    query = select(AuditEvent.id).where(AuditEvent.actor_id == _USER)
    if lumipay:
        query = query.where(
            AuditEvent.action == literal_column("'transfer'"),
            _detail("to_account_number") == bindparam("number"),
        )
    else:
        query = query.where(
            AuditEvent.action == literal_column("'payout.request'"),
            _detail("bank_code") == bindparam("bank_code"),
            _detail("account_number") == bindparam("number"),
        )
    return query.exists()


@functools.cache
def _weighing(spent: bool, paid: str | None, replay: bool) -> PreparedStatement:
    """The one statement of `_weigh` for this shape, prepared once per connection: building
    this statement of subqueries cost more CPU than running it, and so did PostgreSQL's
    planning of it, every call. `paid` is "lumipay", "bank" or None."""
    columns: list[Label[Any]] = []
    if spent:
        columns.append(_spent_today().label("spent"))
    if paid is not None:
        columns.append(_paid_before(paid == "lumipay").label("paid"))
    if replay:
        columns.append(_replayed().label("replay"))
    name = f"lumipay_weigh_{int(spent)}_{paid or 'none'}_{int(replay)}"
    return PreparedStatement(name, select(*columns))


@dataclass(frozen=True)
class _Weighed:
    step_up: bool  # step-up needed
    above: bool  # the amount or the day's total passes its threshold
    replay: bool = False  # the idempotency key asked about completed a request (see _replayed)


def _weigh(
    user_id: int, debit: Debit, *, payee: bool = True, replay_key: str | None = None
) -> _Weighed:
    """Step-up comes from the amount, the day's total with it, or (with `payee`) a first
    payment to the payee.

    The day's spending, the payee's history and (with `replay_key`, the confirm step) whether
    that key completed a request are read together, in one statement; the day and the payee
    only when the amount alone does not decide."""
    over = debit.amount > _threshold(debit.currency)
    # Showing a card's details moves nothing (it has its own factors): no day's total.
    spent = bool(debit.amount) and not over
    values: dict[str, Any] = {"user_id": user_id}
    paid = None
    if spent:
        values.update(currency=debit.currency, day=clock.today())
    if payee and debit.payee is not None and not over:
        bank, _, values["number"] = debit.payee.partition(":")
        paid = "lumipay" if bank == "lumipay" else "bank"
        if paid == "bank":
            values["bank_code"] = bank
    if replay_key:
        window = timedelta(seconds=settings.api().idempotency_ttl_seconds)
        values.update(key=replay_key, since=clock.now() - window)
    if not (spent or paid or replay_key):
        return _Weighed(over, over)
    row = _weighing(spent, paid, bool(replay_key)).execute(values).one()._mapping
    replay = bool(row.get("replay"))
    if over:
        return _Weighed(True, True, replay)
    total = int(row.get("spent") or 0)
    above = spent and total + debit.amount > _daily_threshold(debit.currency)
    first_payment = "paid" in row and not row["paid"]
    return _Weighed(above or first_payment, above, replay)


def _above_thresholds(user_id: int, debit: Debit) -> bool:
    return _weigh(user_id, debit, payee=False).above


def _needs(user: User, weighed: _Weighed, *, api: bool) -> Needs:
    pin_needed = user.has_pin or not api
    otp = weighed.step_up and user.has_totp
    email_code = weighed.step_up and not user.has_totp and weighed.above
    return Needs(pin_needed, weighed.step_up, otp, email_code)


def needs(user: User, debit: Debit, *, api: bool = False) -> Needs:
    return _needs(user, _weigh(user.id, debit), api=api)


def _replayed() -> Exists:
    """The key completed a request a repeat would replay: its one-time factors were used up.
    Binds user_id, key and since (the start of the replay window)."""
    return (
        select(IdempotencyRecord.id)
        .where(
            IdempotencyRecord.owner_id == _USER,
            IdempotencyRecord.key == bindparam("key"),
            IdempotencyRecord.outcome.is_not(None),
            IdempotencyRecord.created_at >= bindparam("since"),
        )
        .exists()
    )


def _tier1_cap() -> int:
    return int(settings.kyc().limits[1]["TRANSACTION_LIMIT"])


def _bound(debit: Debit) -> str:
    return f"{STEP_UP_PURPOSE}{debit.kind}:{debit.currency}:{debit.amount}:{debit.payee or ''}"


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _email_code(user: User, debit: Debit, origin: Origin) -> None:
    """Send a fresh one-time code for this very debit (any earlier one stops working)."""
    code = f"{secrets.randbelow(10**6):06d}"
    purpose = _bound(debit)

    def work() -> None:
        fresh = db.session.get(User, user.id, with_for_update=True, populate_existing=True)
        assert fresh is not None
        fresh.email_code_hash = _hash(f"{purpose}:{code}")
        fresh.email_code_purpose = hashlib.sha256(purpose.encode()).hexdigest()
        fresh.email_code_expires_at = clock.now() + timedelta(seconds=EMAIL_CODE_SECONDS)

    run_in_transaction(work)
    send_email(
        user.email,
        "Your Lumipay one-time code",
        f"Hello {user.first_name},\n\nYour code to confirm {KINDS.get(debit.kind, 'a payment')} "
        f"is {code}. It works once, for this payment only, within "
        f"{EMAIL_CODE_SECONDS // 60} minutes.\n\n"
        "If you didn't start this payment, change your password and PIN now.\n",
    )


def _check_email_code(user: User, debit: Debit, code: str) -> bool:
    purpose = _bound(debit)

    def work() -> bool:
        fresh = db.session.get(User, user.id, with_for_update=True, populate_existing=True)
        assert fresh is not None
        live = (
            fresh.email_code_purpose == hashlib.sha256(purpose.encode()).hexdigest()
            and fresh.email_code_expires_at is not None
            and as_utc(fresh.email_code_expires_at) > clock.now()
            and hmac.compare_digest(fresh.email_code_hash or "", _hash(f"{purpose}:{code}"))
        )
        if fresh.email_code_purpose is not None and fresh.email_code_purpose.startswith("pin"):
            return False  # a PIN reset link in flight is not a payment's code
        fresh.email_code_hash = fresh.email_code_purpose = None
        fresh.email_code_expires_at = None
        return live

    return run_in_transaction(work)


def authorise_debit(
    user_id: int,
    debit: Debit,
    proof: Proof,
    *,
    origin: Origin,
    api: bool = False,
    idempotency_key: str | None = None,
) -> Authorised:
    """Pass (and say whether step-up was part of it) or raise DebitRefused."""
    user = db.session.get(User, user_id)
    assert user is not None
    # Whether the key already completed is read with the step-up weighing, in its statement,
    # and only used once the PIN has passed, as before.
    weighed = _weigh(user_id, debit, replay_key=idempotency_key)
    need = _needs(user, weighed, api=api)
    if api and not user.has_pin:
        # Tier 1 limits themselves are enforced by the posting (lumipay.kyc.limits), with the
        # refusal clients expect; above Tier 1, or above step-up, a PIN is needed first.
        beyond_tier1 = debit.currency == "NGN" and debit.amount > _tier1_cap()
        if user.kyc_tier > 1 and (beyond_tier1 or _above_thresholds(user_id, debit)):
            raise DebitRefused(
                "pin-not-set", "pin", "Set a transaction PIN (POST users/me/pin) for this amount."
            )
        return Authorised(step_up=False)
    if not proof.pin:
        raise DebitRefused("pin-required", "pin", "Enter your transaction PIN.")
    try:
        pins.verify(user_id, proof.pin, origin=origin)
    except pins.PinError as exc:
        raise DebitRefused(exc.code, "pin", exc.message) from None
    if weighed.replay:
        return Authorised(step_up=need.step_up, replay=True)
    if need.step_up:
        if need.otp:
            _check_otp(user, proof.otp_code, origin)
        elif need.email_code:
            if not proof.email_code:
                _email_code(user, debit, origin)
                raise DebitRefused(
                    "email-code-required",
                    "email_code",
                    "We emailed you a one-time code for this payment: enter it to confirm.",
                )
            if not _check_email_code(user, debit, proof.email_code.strip()):
                # One guess per code: a wrong one is spent and a fresh code goes out.
                _email_code(user, debit, origin)
                raise DebitRefused(
                    "email-code-invalid",
                    "email_code",
                    "That code doesn't match or has expired: we emailed you a new one.",
                )
    return Authorised(step_up=need.step_up)


def _check_otp(user: User, code: str | None, origin: Origin) -> None:
    if not code:
        raise DebitRefused("otp-required", "otp_code", "This payment needs a one-time code.")
    if not auth.is_locked(user) and twofactor.verify(user.id, code, origin=origin):
        return
    auth.record_failed_second_factor(user.id, origin=origin)
    db.session.expire_all()
    locked = auth.is_locked(db.session.get_one(User, user.id))
    raise DebitRefused(
        "otp-invalid",
        "otp_code",
        "That code doesn't match. Enter the newest code from your app.",
        signed_out=locked,
    )
