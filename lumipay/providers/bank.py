"""The bank capability: money in (top-ups) and out (payouts) through Nigerian banks.

Adapters answer in the values below. As with bills, anything unclear about a payout (a timeout,
a 5xx, "pending") is PENDING: the caller requeries until the answer is final and never
releases the customer's hold on it. Our payout reference is the provider's idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from lumipay.providers.bills import Outcome, ProviderError
from lumipay.providers.settlement_report import FAILED, PENDING, SUCCEEDED, SettlementLine

__all__ = [
    "AccountName",
    "Bank",
    "BankEvent",
    "BankProvider",
    "Checkout",
    "CreditReversal",
    "Outcome",
    "Payment",
    "PayoutRequest",
    "PayoutResult",
    "ProviderError",
    "ReservedAccount",
    "SettlementLine",
    "banks_by_code",
    "settlement_status",
]

# CBN bank codes (NIP institution codes are longer; these are the ones most APIs take).
CBN_BANKS: tuple[tuple[str, str], ...] = (
    ("044", "Access Bank"),
    ("023", "Citibank Nigeria"),
    ("050", "Ecobank Nigeria"),
    ("070", "Fidelity Bank"),
    ("011", "First Bank of Nigeria"),
    ("214", "First City Monument Bank"),
    ("058", "Guaranty Trust Bank"),
    ("030", "Heritage Bank"),
    ("301", "Jaiz Bank"),
    ("082", "Keystone Bank"),
    ("50515", "Moniepoint MFB"),
    ("999992", "OPay"),
    ("999991", "PalmPay"),
    ("076", "Polaris Bank"),
    ("221", "Stanbic IBTC Bank"),
    ("068", "Standard Chartered Bank"),
    ("232", "Sterling Bank"),
    ("032", "Union Bank of Nigeria"),
    ("033", "United Bank for Africa"),
    ("215", "Unity Bank"),
    ("035", "Wema Bank"),
    ("057", "Zenith Bank"),
)


@dataclass(frozen=True)
class Bank:
    code: str
    name: str


def banks_by_code(banks: list[Bank]) -> dict[str, Bank]:
    return {bank.code: bank for bank in banks}


@dataclass(frozen=True)
class AccountName:
    """A name enquiry's answer: the name the destination bank holds for the account."""

    bank_code: str
    account_number: str
    account_name: str


@dataclass(frozen=True)
class ReservedAccount:
    """A dedicated account number in the customer's name; money sent to it is theirs."""

    account_reference: str  # ours, given to the provider
    account_number: str
    account_name: str
    bank_name: str


@dataclass(frozen=True)
class Checkout:
    checkout_url: str
    provider_reference: str | None = None


@dataclass(frozen=True)
class PayoutRequest:
    reference: str  # ours: unique, stable, the provider's idempotency key
    amount: int  # minor units
    currency: str
    bank_code: str
    account_number: str
    account_name: str
    narration: str


@dataclass(frozen=True)
class PayoutResult:
    outcome: Outcome
    message: str = ""
    provider_reference: str | None = None


@dataclass(frozen=True)
class Payment:
    """Money the provider received for us: a checkout payment or a reserved-account transfer."""

    provider_reference: str  # the provider's transaction reference: credited once, ever
    amount: int  # minor units actually paid
    currency: str
    reference: str | None = None  # our top-up reference (checkout)
    account_reference: str | None = None  # our reserved account reference
    payer: str = ""


REVERSAL, CHARGEBACK, REFUND = "reversal", "chargeback", "refund"


@dataclass(frozen=True)
class CreditReversal:
    """The provider took back money it had reported received: a reversal, a chargeback, or a
    refund to the payer."""

    provider_reference: str  # the original payment's transaction reference
    reversal_reference: str  # this reversal's own id at the provider: applied once, ever
    kind: str  # REVERSAL | CHARGEBACK | REFUND
    amount: int | None = None  # minor units taken back; None: all that was credited
    currency: str | None = None


@dataclass(frozen=True)
class BankEvent:
    """A verified webhook read by its adapter: a payment in, a payment taken back, news of a
    payout, or `unhandled` (why the adapter could not read it: kept and flagged, never
    dropped)."""

    payment: Payment | None = None
    payout_reference: str | None = None
    payout_result: PayoutResult | None = None
    reversal: CreditReversal | None = None
    unhandled: str | None = None


# How bank reports name a line's state, mapped onto reconciliation's three.
SETTLED_WORDS = frozenset(
    {"success", "successful", "completed", "paid", "overpaid", "partially_paid"}
)
FAILED_WORDS = frozenset({"failed", "reversed", "expired", "cancelled", "declined"})


def settlement_status(word: object) -> str:
    """A provider's status word as report.SUCCEEDED / FAILED / PENDING (unknown: PENDING)."""
    text = str(word or "").strip().lower()
    if text in SETTLED_WORDS:
        return SUCCEEDED
    if text in FAILED_WORDS:
        return FAILED
    return PENDING


class BankProvider(Protocol):
    """One adapter per provider. Which one sends payouts or answers name enquiries is config."""

    name: str
    label: str

    @property
    def topup_methods(self) -> tuple[str, ...]:
        """reserved_account and/or checkout; empty: no top-ups."""

    def banks(self) -> list[Bank]:
        """The banks this provider can pay into."""

    def name_enquiry(self, bank_code: str, account_number: str) -> AccountName:
        """The account's holder; raises ProviderError (a message safe to show) when unknown."""

    def reserve_account(self, account_reference: str, name: str, email: str) -> ReservedAccount:
        """Create (or return, for the same reference) the customer's dedicated account."""

    def start_checkout(
        self, reference: str, amount: int, currency: str, name: str, email: str
    ) -> Checkout:
        """A payment page for this top-up; its payment arrives by webhook."""

    def send_payout(self, request: PayoutRequest) -> PayoutResult:
        """Send money out. May raise on transport errors (treated as PENDING)."""

    def payout_status(self, request: PayoutRequest) -> PayoutResult:
        """Requery a payout by our reference; NOT_FOUND when it never arrived."""

    def read_webhook(self, event_type: str, data: dict[str, Any]) -> BankEvent:
        """Read a verified delivery's data."""

    def settlement_report(self, start: date, end: date) -> list[SettlementLine]:
        """What the provider settled between two dates (inclusive)."""
