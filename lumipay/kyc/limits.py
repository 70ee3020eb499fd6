"""The one place the CBN KYC tier limits are decided.

Per tier (configured in `KYC_LIMITS`, defaults from the CBN circular, see lumipay.config):
a per-transaction limit, a daily cumulative limit on money leaving the customer, and a maximum
balance. The limits are naira amounts; a movement or balance in USD, EUR or GBP counts at its
naira value at the FX mid-rate (rounded up), so opening a foreign wallet is no way around them.

This module decides the numbers (`movement_limits`) and words the refusals (`refusal_error`);
the ledger enforces them under its own locks, in SQL (`ledger_limits_refusal`, called by the
posting function `ledger_post` and, for a hold, an approval or a card clearing, by
`check_outgoing` / `check_incoming` here). The rule is written once, there.

The day is the Lagos day (Africa/Lagos), the day `ledger_daily_flows` is kept by: what left the
customer's wallets that day is read from there, plus what active holds (bills in flight) reserve.
A posting is weighed on its own day: the ledger takes the posting's time under the wallet locks,
so a posting can't be booked to one day and weighed against another.

The enforcement locks the customers' `users` rows after the wallets (ascending ids, so two
opposite transfers can't deadlock), so every outgoing movement of one customer queues behind
the others, whichever wallet it leaves from: two transfers can't both squeeze under the daily
limit; a freeze (an UPDATE of the row) waits for a movement in flight, and one committed first
is seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal, localcontext
from typing import Any

from sqlalchemy import select

from lumipay import clock, settings
from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.models import Account
from lumipay.money import CURRENCIES, format_amount
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
RATES_UNAVAILABLE = (
    "We can't weigh this against your limits while exchange rates are unavailable. "
    "Try again in a few minutes."
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


# The FX domain (a layer above) registers its mid-rate to NGN, or None while rates are unavailable.
_naira_rates_source: list[Callable[[str], Decimal | None]] = []


def use_rates(naira_rate: Callable[[str], Decimal | None]) -> None:
    """Register the function that gives one unit of a currency's value in naira."""
    _naira_rates_source[:] = [naira_rate]


def naira_value(currency: str, amount: int) -> int:
    """`amount` minor units of `currency` in kobo at the mid-rate, rounded up (exactly, as the
    ledger's `ledger_naira_value` does in SQL)."""
    if currency == "NGN" or amount == 0:
        return amount
    rate = _naira_rates().get(currency)
    if rate is None:
        raise LimitExceeded(RATES_UNAVAILABLE)
    with localcontext() as ctx:
        ctx.prec = 80
        value = Decimal(amount) * Decimal(rate)
    return int(value.to_integral_value(ROUND_CEILING))


def _naira_rates() -> dict[str, str]:
    """Kobo per minor unit of every other currency at the mid-rate (every currency here has two
    decimal places, so minor units convert like major ones); empty without rates."""
    if not _naira_rates_source:
        return {}
    rates = {currency: _naira_rates_source[0](currency) for currency in CURRENCIES}
    return {
        currency: str(rate)
        for currency, rate in rates.items()
        if currency != "NGN" and rate is not None
    }


def movement_limits(
    *,
    out: tuple[int, str, int, int] | None = None,
    incoming: Iterable[tuple[int, int]] = (),
    rates: bool = False,
    preview: bool = False,
) -> ledger.Limits:
    """What the ledger weighs a movement against, under its locks (see `ledger.Limits`).

    `out` is (customer, currency, amount, reserved) for money leaving a customer, `incoming`
    (wallet, amount) for credits weighed against their owner's maximum balance. Without
    `rates` the FX rates are left out; a movement that needs them is refused with the code
    "rates" and asked again with them (`weigh`, or the caller's own retry). A `preview` is
    weighed without locking the customers (step one of a debit: nothing moves yet)."""
    configured = settings.kyc().limits
    return {
        "preview": preview,
        "tiers": {
            str(tier): {
                "per_transaction": numbers["TRANSACTION_LIMIT"],
                "daily": numbers["DAILY_LIMIT"],
                "max_balance": numbers["MAX_BALANCE"] or None,
            }
            for tier, numbers in configured.items()
        },
        "rates": _naira_rates() if rates else None,
        "out": None
        if out is None
        else {"user_id": out[0], "currency": out[1], "amount": out[2], "reserved": out[3]},
        "in": [{"account_id": account_id, "amount": amount} for account_id, amount in incoming],
    }


def needs_rates(refusal: dict[str, Any], limits: ledger.Limits) -> bool:
    """True when the ledger refused only because the FX rates were left out of `limits`."""
    return refusal.get("code") == "rates" and limits.get("rates") is None


def refusal_error(refusal: dict[str, Any], *, kind: str, own: bool = False) -> LimitExceeded:
    """The customer's words for a refusal of the ledger's limits enforcement."""
    code = refusal.get("code")
    if code == "frozen":
        return AccountFrozen()
    if code == "rates":
        return LimitExceeded(RATES_UNAVAILABLE)
    tier, limit = int(refusal["tier"]), int(refusal["limit"])
    lift = NEXT_TIER_NEEDS[tier]
    if code == "per_transaction":
        return LimitExceeded(
            f"This {MOVEMENT.get(kind, 'payment')} is more than your Tier {tier} limit of "
            f"{format_amount(limit)} per transaction. {lift}"
        )
    if code == "daily":
        left = max(limit - int(refusal["spent"]), 0)
        return LimitExceeded(
            f"This would take you past your Tier {tier} daily limit of "
            f"{format_amount(limit)}: you can send {format_amount(left)} more today. {lift}"
        )
    if own:
        return LimitExceeded(
            f"This would take your balance past your Tier {tier} maximum of "
            f"{format_amount(limit)}. {lift}"
        )
    return LimitExceeded(
        "The recipient can't receive this amount: it would take them past the maximum "
        "balance their verification level allows. They can lift it by verifying their "
        "identity on the Verification page, or you can send less."
    )


def _weigh(
    *,
    kind: str,
    day: date | None,
    own: bool = False,
    out: tuple[int, str, int, int] | None = None,
    incoming: Iterable[tuple[int, int]] = (),
    preview: bool = False,
) -> None:
    """Ask the ledger's limits enforcement about a movement that is not a posting (yet)."""
    incoming = list(incoming)
    day = day or clock.today()
    limits = movement_limits(out=out, incoming=incoming, preview=preview)
    refusal = ledger.limits_refusal(limits, day)
    if refusal is not None and needs_rates(refusal, limits):
        limits = movement_limits(out=out, incoming=incoming, rates=True, preview=preview)
        refusal = ledger.limits_refusal(limits, day)
    if refusal is not None:
        raise refusal_error(refusal, kind=kind, own=own)


def check_outgoing(
    user_id: int,
    currency: str,
    amount: int,
    *,
    kind: str,
    day: date | None = None,
    reserved: int = 0,
) -> None:
    """The one gate for money leaving a customer that is not posted at once (a hold, an
    approval, a card authorisation or clearing): refuse it when an admin froze them
    (AccountFrozen) or when it would break their tier's limits (LimitExceeded). A posting
    weighs the same limits itself (`movement_limits`, passed to `ledger.post`).

    `day` is the Lagos day the movement counts in: a posting's own day (given by the ledger
    under its locks), or today by the clock for a hold.

    `reserved` is the part of `amount` an active hold already reserves (a card clearing
    capturing its authorisation, an approval re-checking the operation it held for): today's
    holds count it already, so the daily limit weighs only what is new; the per-transaction
    limit weighs the whole `amount`. The customer's row is locked (after the caller's wallet
    locks) by the ledger's enforcement."""
    _weigh(kind=kind, day=day, out=(user_id, currency, amount, reserved))


@dataclass(frozen=True)
class Headroom:
    """What a customer may still move today (kobo), as step one of a debit shows it."""

    tier: int
    per_transaction: int
    daily: int
    left_today: int


def headroom(user_id: int, *, tier: int | None = None) -> Headroom | None:
    """Read-only: the tier's limits and what remains of today's (the Lagos day's) allowance,
    counted by the ledger's own `ledger_spent`; None while rates to weigh foreign money by are
    unavailable. `tier`, when the caller has the customer's row (the signed-in user), spares
    reading it again."""
    if tier is None:
        tier = db.session.scalar(select(User.kyc_tier).where(User.id == user_id)) or 1
    limits = tier_limits(tier)
    # Rates are fetched only when the customer moved foreign money today (NULL without them).
    day = clock.today()
    spent = ledger.spent_today(user_id, day, {})
    if spent is None:
        spent = ledger.spent_today(user_id, day, _naira_rates())
    if spent is None:
        return None
    return Headroom(tier, limits.per_transaction, limits.daily, max(limits.daily - spent, 0))


def preview_outgoing(
    user_id: int,
    currency: str,
    amount: int,
    *,
    kind: str,
    credit_account_id: int | None = None,
    credit_owner_id: int | None = None,
) -> None:
    """Step one of a debit: the ledger's own limits enforcement (as `check_outgoing`, and
    `check_incoming` on the account credited, when given), weighed without locking anything,
    so a customer hears of a limit before the confirm step. The posting still decides, under
    its locks. `credit_owner_id`, when the caller has read it, spares reading who owns the
    account credited."""
    incoming = [] if credit_account_id is None else [(credit_account_id, amount)]
    if credit_account_id is not None and credit_owner_id is None:
        credit_owner_id = db.session.scalar(
            select(Account.user_id).where(Account.id == credit_account_id)
        )
    own = credit_account_id is not None and user_id == credit_owner_id
    _weigh(
        kind=kind,
        day=None,
        own=own,
        out=(user_id, currency, amount, 0),
        incoming=incoming,
        preview=True,
    )


def check_incoming(account_id: int, amount: int, *, own: bool = False) -> None:
    """Refuse a credit that would take the wallet's owner past their tier's maximum balance.

    From someone else (a transfer) the message goes to the sender, so it tells nothing of the
    owner's balance or tier; for the owner's own money (`own`, a top-up) it names the limit.
    """
    _weigh(kind="credit", day=None, own=own, incoming=[(account_id, amount)])


def payout_refusal(user_id: int, *, tier: int | None = None) -> str | None:
    """Why the customer may not pay out to another bank yet (Tier 2 and above may), or None.
    `tier` as for `headroom`."""
    if tier is None:
        tier = db.session.scalar(select(User.kyc_tier).where(User.id == user_id))
    if tier is None or tier >= PAYOUT_TIER:
        return None
    return f"Payouts to other banks start at Tier {PAYOUT_TIER}. {NEXT_TIER_NEEDS[tier]}"
