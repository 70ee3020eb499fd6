"""The bills capability: what every bill-payment adapter offers, and the values it trades in.

An adapter answers a charge or a requery with a `BillResult`. Anything unclear (a timeout, a 5xx,
"processing") is PENDING: the caller requeries until the answer is final, never refunds on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from lumipay.providers.settlement_report import SettlementLine


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"
    # The provider has no record of the request id: it never arrived, so it may be sent again.
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class BillRequest:
    """One purchase as the provider sees it. `request_id` is ours: unique and stable."""

    request_id: str
    category: str  # airtime | data | electricity
    service_id: str  # e.g. mtn, mtn-data, ikeja-electric
    recipient: str  # phone number, or meter number for electricity
    amount: int  # kobo
    phone: str  # the customer's phone for the provider's receipt
    variation_code: str | None = None  # data plan, or prepaid/postpaid for electricity


@dataclass(frozen=True)
class BillResult:
    outcome: Outcome
    message: str = ""
    token: str | None = None  # prepaid electricity token
    provider_reference: str | None = None


@dataclass(frozen=True)
class DataPlan:
    code: str
    name: str
    amount: int  # kobo


@dataclass(frozen=True)
class MeterCustomer:
    name: str
    address: str = ""


class ProviderError(Exception):
    """A look-up the provider refused or could not answer; `message` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BillsProvider(Protocol):
    """One adapter per provider; which one serves which bill type is configuration."""

    name: str

    def charge(self, request: BillRequest) -> BillResult:
        """Ask the provider to deliver. May raise on transport errors (treated as PENDING)."""

    def status(self, request: BillRequest) -> BillResult:
        """Requery a request by its id."""

    def webhook(self, data: dict[str, Any]) -> tuple[str, BillResult]:
        """Read a verified webhook's data: (our request id, what the provider says now)."""

    def data_plans(self, service_id: str) -> list[DataPlan]:
        """The provider's data plans for a network, with prices."""

    def verify_meter(self, service_id: str, meter_number: str, meter_type: str) -> MeterCustomer:
        """The customer behind a meter; raises ProviderError when the meter is not valid."""

    def settlement_report(self, start: date, end: date) -> list[SettlementLine]:
        """What the provider settled with us on the days start..end, for reconciliation."""
