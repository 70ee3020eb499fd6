"""The one place the CBN KYC tier limits are enforced.

Per tier (configured in `KYC_LIMITS`, defaults from the CBN circular, see lumipay.config):
a per-transaction limit, a daily cumulative limit on money leaving the customer, and a maximum
balance. The limits are naira amounts; a movement or balance in USD, EUR or GBP counts at its
naira value at the FX mid-rate (rounded up), so opening a foreign wallet is no way around them.

The day is the Lagos day (Africa/Lagos), the day `ledger_daily_flows` is kept by: what left the
customer's wallets that day is read from there, plus what active holds (bills in flight) reserve.
A posting asks about its own day: the ledger takes the posting's time under the wallet locks and
hands its day to the check (`ledger.apply(..., check=...)`), so a posting can't be booked to one
day and weighed against another.

Callers check inside the transaction that moves the money, after the wallets are locked. The
checks lock the customer's `users` row too, so every outgoing movement of one customer queues
behind the others, whichever wallet it leaves from: two transfers can't both squeeze under the
daily limit. A caller moving money between two customers locks both first with
`lock_customers` (ascending ids, so two opposite transfers can't deadlock).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import func, select

from lumipay import clock, settings
from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.ledger.models import WALLET, Account, DailyFlow, Hold, HoldStatus
from lumipay.money import format_amount
from lumipay.refusals import Refused

TOP_TIER = 3
PAYOUT_TIER = 2  # issue 5: paying out to an external bank needs a verified identity
NEXT_TIER_NEEDS = {
    1: "Verify your BVN or NIN and an ID document on the Verification page to move up to Tier 2.",
    2: "Send a proof of address on the Verification page to move up to Tier 3.",
    3: "That is the limit of Tier 3, the highest tier.",
}
FROZEN_MESSAGE = (
    "Your account is frozen: you can sign in and see it, but no money can leave it until our "
    "team lifts the freeze. Contact support to find out more."
)
MOVEMENT = {
    "transfer": "transfer",
    "bill": "payment",
    "fx_conversion": "conversion",
    "card": "card payment",
    "payout": "payout",
}


class LimitExceeded(Refused):
    """A movement would break a tier limit; the message names the limit and what lifts it.

    Raised as it is through every use case (never re-wrapped): pages and the API handle it as
    any other refusal, on the amount field, with its own problem type."""

    field: str | None = "amount"
    code = "over-kyc-limit"  # the API's problem type for every limit refusal

    def __init__(self, message: str) -> None:
        super().__init__(type(self).field, message)


class AccountFrozen(LimitExceeded):
    """An admin froze the customer: they can sign in and look, but no money leaves."""

    field = None
    code = "account-frozen"

    def __init__(self) -> None:
        super().__init__(FROZEN_MESSAGE)


@dataclass(frozen=True)
class TierLimits:
    """One tier's limits in kobo; `max_balance` None means unlimited."""

    tier: int
    per_transaction: int
    daily: int
    max_balance: int | None


def tier_limits(tier: int) -> TierLimits:
    configured = settings.kyc().limits[tier]
    return TierLimits(
        tier,
        configured["TRANSACTION_LIMIT"],
        configured["DAILY_LIMIT"],
        configured["MAX_BALANCE"] or None,
    )


def _locked_rows(user_ids: Iterable[int]) -> dict[int, tuple[int, bool]]:
    """Lock customers' rows in ascending id order; each one's (tier, frozen) under the lock."""
    ids = sorted(set(user_ids))
    rows = db.session.execute(
        select(User.id, User.kyc_tier, User.frozen_at)
        .where(User.id.in_(ids))
        .order_by(User.id)
        .with_for_update(key_share=True)
    ).all()
    return {user_id: (tier, frozen_at is not None) for user_id, tier, frozen_at in rows}


def lock_customers(user_ids: Iterable[int]) -> dict[int, int]:
    """Lock customers' rows in ascending id order; returns each one's tier, read under the lock.

    Customers' rows are always locked after the wallets, so movements can't deadlock on them; a
    freeze (an UPDATE of the row) waits for a movement in flight, and one committed first is seen.
    """
    return {user_id: tier for user_id, (tier, _) in _locked_rows(user_ids).items()}


# The FX domain (a layer above) registers its mid-rate to NGN, or None while rates are unavailable.
_naira_rates: list[Callable[[str], Decimal | None]] = []


def use_rates(naira_rate: Callable[[str], Decimal | None]) -> None:
    """Register the function that gives one unit of a currency's value in naira."""
    _naira_rates[:] = [naira_rate]


def naira_value(currency: str, amount: int) -> int:
    """`amount` minor units of `currency` in kobo at the mid-rate, rounded up."""
    if currency == "NGN" or amount == 0:
        return amount
    rate = _naira_rates[0](currency) if _naira_rates else None
    if rate is None:
        raise LimitExceeded(
            "We can't weigh this against your limits while exchange rates are unavailable. "
            "Try again in a few minutes."
        )
    # Every currency here has two decimal places, so minor units convert like major ones.
    value = Decimal(amount) * rate
    return int(value.to_integral_value(ROUND_CEILING))


def _valued(per_currency: dict[str, int]) -> int:
    return sum(naira_value(currency, amount) for currency, amount in per_currency.items())


def spent_today(user_id: int, day: date | None = None) -> int:
    """Kobo value of what left the customer's wallets on the Lagos `day` (today by the clock),
    plus active holds."""
    day = day or clock.today()
    per_currency: dict[str, int] = defaultdict(int)
    flows = db.session.execute(
        select(Account.currency, func.sum(DailyFlow.money_out))
        .join(DailyFlow, DailyFlow.account_id == Account.id)
        .where(Account.user_id == user_id, Account.kind == WALLET, DailyFlow.day == day)
        .group_by(Account.currency)
    )
    holds = db.session.execute(
        select(Account.currency, func.sum(Hold.amount))
        .join(Hold, Hold.account_id == Account.id)
        .where(Account.user_id == user_id, Account.kind == WALLET, Hold.status == HoldStatus.ACTIVE)
        .group_by(Account.currency)
    )
    for currency, amount in [*flows, *holds]:
        per_currency[currency] += int(amount or 0)
    return _valued(per_currency)


def balance_value(user_id: int) -> int:
    """Kobo value of the customer's posted balances across all their wallets."""
    rows = db.session.execute(
        select(Account.currency, func.sum(Account.balance))
        .where(Account.user_id == user_id, Account.kind == WALLET)
        .group_by(Account.currency)
    )
    return _valued({currency: int(amount or 0) for currency, amount in rows})


def check_outgoing(
    user_id: int,
    currency: str,
    amount: int,
    *,
    kind: str,
    day: date | None = None,
    reserved: int = 0,
) -> None:
    """The one gate for money leaving a customer: refuse it when an admin froze them
    (AccountFrozen) or when it would break their tier's limits (LimitExceeded).

    `day` is the Lagos day the movement counts in: a posting's own day (given by the ledger
    under its locks), or today by the clock for a hold.

    `reserved` is the part of `amount` an active hold already reserves (a card clearing
    capturing its authorisation, an approval re-checking the operation it held for): today's
    holds count it already, so the daily limit weighs only what is new; the per-transaction
    limit weighs the whole `amount`."""
    tier, frozen = _locked_rows([user_id])[user_id]
    _weigh_outgoing(user_id, tier, frozen, currency, amount, kind, day, reserved)


def _weigh_outgoing(
    user_id: int,
    tier: int,
    frozen: bool,
    currency: str,
    amount: int,
    kind: str,
    day: date | None,
    reserved: int,
) -> None:
    """The rule itself, for the gate (under the customer's lock) and the preview (without)."""
    if frozen:
        raise AccountFrozen()
    limits = tier_limits(tier)
    value = naira_value(currency, amount)
    what = MOVEMENT.get(kind, "payment")
    lift = NEXT_TIER_NEEDS[tier]
    if value > limits.per_transaction:
        raise LimitExceeded(
            f"This {what} is more than your Tier {tier} limit of "
            f"{format_amount(limits.per_transaction)} per transaction. {lift}"
        )
    spent = spent_today(user_id, day)
    if spent + naira_value(currency, amount - reserved) > limits.daily:
        left = max(limits.daily - spent, 0)
        raise LimitExceeded(
            f"This would take you past your Tier {tier} daily limit of "
            f"{format_amount(limits.daily)}: you can send {format_amount(left)} more today. "
            f"{lift}"
        )


@dataclass(frozen=True)
class Headroom:
    """What a customer may still move today (kobo), as step one of a debit shows it."""

    tier: int
    per_transaction: int
    daily: int
    left_today: int


def headroom(user_id: int) -> Headroom:
    """Read-only: the tier's limits and what remains of today's (the Lagos day's) allowance."""
    tier = db.session.scalar(select(User.kyc_tier).where(User.id == user_id)) or 1
    limits = tier_limits(tier)
    left = max(limits.daily - spent_today(user_id), 0)
    return Headroom(tier, limits.per_transaction, limits.daily, left)


def preview_outgoing(
    user_id: int, currency: str, amount: int, *, kind: str, credit_account_id: int | None = None
) -> None:
    """Step one of a debit: the same rules as `check_outgoing` (and `check_incoming` on the
    account credited, when given), read without locking anything, so a customer hears of a
    limit before the confirm step. The posting still decides, under its locks."""
    row = db.session.execute(
        select(User.kyc_tier, User.frozen_at).where(User.id == user_id)
    ).first()
    if row is None:
        return
    tier, frozen_at = row
    _weigh_outgoing(user_id, tier, frozen_at is not None, currency, amount, kind, None, 0)
    if credit_account_id is not None:
        wallet = db.session.get(Account, credit_account_id)
        if wallet is not None and wallet.user_id is not None:
            owner_tier = db.session.scalar(select(User.kyc_tier).where(User.id == wallet.user_id))
            _weigh_incoming(wallet, owner_tier or 1, amount, own=wallet.user_id == user_id)


def check_incoming(account_id: int, amount: int, *, own: bool = False) -> None:
    """Refuse a credit that would take the wallet's owner past their tier's maximum balance.

    From someone else (a transfer) the message goes to the sender, so it tells nothing of the
    owner's balance or tier; for the owner's own money (`own`, a top-up) it names the limit.
    """
    wallet = db.session.get(Account, account_id)
    if wallet is None or wallet.user_id is None:
        return
    tier = lock_customers([wallet.user_id])[wallet.user_id]
    _weigh_incoming(wallet, tier, amount, own=own)


def _weigh_incoming(wallet: Account, tier: int, amount: int, *, own: bool) -> None:
    limits = tier_limits(tier)
    if limits.max_balance is None:
        return
    if balance_value(wallet.user_id) + naira_value(wallet.currency, amount) <= limits.max_balance:
        return
    if own:
        raise LimitExceeded(
            f"This would take your balance past your Tier {tier} maximum of "
            f"{format_amount(limits.max_balance)}. {NEXT_TIER_NEEDS[tier]}"
        )
    raise LimitExceeded(
        "The recipient can't receive this amount: it would take them past the maximum "
        "balance their verification level allows. They can lift it by verifying their "
        "identity on the Verification page, or you can send less."
    )


def payout_refusal(user_id: int) -> str | None:
    """Why the customer may not pay out to another bank yet (Tier 2 and above may), or None."""
    tier = db.session.scalar(select(User.kyc_tier).where(User.id == user_id))
    if tier is None or tier >= PAYOUT_TIER:
        return None
    return f"Payouts to other banks start at Tier {PAYOUT_TIER}. {NEXT_TIER_NEEDS[tier]}"
