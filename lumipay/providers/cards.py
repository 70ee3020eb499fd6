"""The cards capability: what every card-issuing adapter offers, and the values it trades in.

We keep only what an adapter returns in `IssuedCard` (the provider's token, brand, last four
digits and expiry). The full number and CVV (`CardDetails`) exist only in the provider and, for
one response, in the page that shows them to the card's owner: never stored, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

ACTIVE, FROZEN, TERMINATED = "active", "frozen", "terminated"


@dataclass(frozen=True)
class CardRequest:
    """A card to issue. `reference` is ours: the provider refuses a second card for it."""

    reference: str
    currency: str
    cardholder_name: str
    label: str = ""


@dataclass(frozen=True)
class IssuedCard:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class CardDetails:
    """The full card details, fetched on demand. `repr` hides them so a log line can't."""

    number: str = field(repr=False)
    cvv: str = field(repr=False)
    exp_month: int = 0
    exp_year: int = 0

    @property
    def grouped_number(self) -> str:
        return " ".join(self.number[i : i + 4] for i in range(0, len(self.number), 4))


class CardProviderError(Exception):
    """The provider refused, or could not be reached; `message` is safe to show."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # True when asking again will not help (the provider refused this request).
        self.final = final


class CardProviderAdapter(Protocol):
    """One adapter per issuer; which one is used is `CARDS_PROVIDER`."""

    name: str

    def create_card(self, request: CardRequest) -> IssuedCard:
        """Issue a virtual card; the same `request.reference` twice returns the same card."""

    def card_details(self, token: str) -> CardDetails:
        """The full number, CVV and expiry of a card, for showing once to its owner."""

    def update_status(self, token: str, status: str) -> None:
        """Set the card's status at the issuer: active, frozen or terminated."""
