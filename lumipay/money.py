"""Currencies and money amounts held as integer minor units (kobo, cents, pence).

Amounts are never floats: typed text is validated as ASCII digits and converted with exact
integer arithmetic, and formatting works from ``divmod`` on the integer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_MINOR = 2**63 - 1
"""Largest amount in minor units that fits a PostgreSQL BIGINT column."""

_MAX_MINOR_DIGITS = len(str(MAX_MINOR))
_AMOUNT_CHARS = re.compile(r"[0-9,.]+")
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")


@dataclass(frozen=True)
class Currency:
    code: str
    symbol: str
    minor_units: int
    name: str


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("NGN", "₦", 2, "Nigerian naira"),
        Currency("USD", "$", 2, "US dollar"),
        Currency("EUR", "€", 2, "Euro"),
        Currency("GBP", "£", 2, "Pound sterling"),
    )
}


class InvalidAmount(ValueError):
    """An amount a customer typed that cannot be used; ``str()`` is safe to show them."""


class UnknownCurrency(ValueError):
    """A currency code that is not in :data:`CURRENCIES`."""


def get_currency(code: str) -> Currency:
    """Return the currency for an ISO 4217 code such as ``"NGN"`` (case-sensitive)."""
    try:
        return CURRENCIES[code]
    except (KeyError, TypeError):
        raise UnknownCurrency(f"Unknown currency {code}.") from None


def parse_amount(text: str, currency: str = "NGN") -> int:
    """Parse an amount a person typed (``"5,000.50"``) into minor units (``500050``).

    Accepts surrounding whitespace, correctly grouped thousands commas, and one decimal point
    with at most the currency's number of decimals. ``".5"`` means 0.50 and ``"5."`` means 5.00.
    Anything else, including signs, exponents, ``NaN``/``Infinity`` and non-ASCII digits, raises
    :class:`InvalidAmount` with a message meant for the customer.
    """
    cur = get_currency(currency)
    if not isinstance(text, str):
        raise TypeError(f"amount text must be str, not {type(text).__name__}")
    s = text.strip()
    if not s:
        raise InvalidAmount("Enter an amount.")
    if s[0] == "-":
        raise InvalidAmount("Enter an amount greater than zero.")
    if s[0] == "+":
        raise InvalidAmount("Enter the amount without a + sign.")
    if not _AMOUNT_CHARS.fullmatch(s):
        if any(ch.isdigit() and not ("0" <= ch <= "9") for ch in s):
            raise InvalidAmount("Enter the amount using the digits 0 to 9.")
        raise InvalidAmount("Enter the amount in numbers only, for example 5,000.00.")
    if s.count(".") > 1:
        raise InvalidAmount("Enter an amount with at most one decimal point.")

    whole, _, frac = s.partition(".")
    if "," in frac:
        raise InvalidAmount("Commas can only appear before the decimal point, e.g. 5,000.00.")
    if "," in whole:
        if not _GROUPED.fullmatch(whole):
            raise InvalidAmount("Check the commas in the amount, for example 5,000 or 1,234,567.")
        whole = whole.replace(",", "")
    if not whole and not frac:
        raise InvalidAmount("Enter the amount in numbers only, for example 5,000.00.")
    if len(frac) > cur.minor_units:
        if cur.minor_units == 0:
            raise InvalidAmount(f"Amounts in {cur.code} cannot have decimal places.")
        raise InvalidAmount(f"Amounts in {cur.code} have at most {cur.minor_units} decimal places.")

    # Checking the digit count first keeps int() away from huge strings, which Python refuses
    # to convert beyond sys.get_int_max_str_digits().
    digits = (whole + frac.ljust(cur.minor_units, "0")).lstrip("0")
    if len(digits) > _MAX_MINOR_DIGITS:
        raise InvalidAmount("That amount is too large.")
    minor = int(digits) if digits else 0
    if minor == 0:
        raise InvalidAmount("Enter an amount greater than zero.")
    if minor > MAX_MINOR:
        raise InvalidAmount("That amount is too large.")
    return minor


def _check_minor(minor: int) -> None:
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor units must be int, not {type(minor).__name__}")


def format_amount(minor: int, currency: str = "NGN", *, sign: bool = False) -> str:
    """Format minor units for display: ``500050`` -> ``"₦5,000.50"``, ``-500`` -> ``"-₦5.00"``.

    With ``sign=True`` positive amounts get a leading ``+`` (zero never has a sign).
    """
    _check_minor(minor)
    cur = get_currency(currency)
    whole, frac = divmod(abs(minor), 10**cur.minor_units)
    body = f"{cur.symbol}{whole:,}"
    if cur.minor_units:
        body += f".{frac:0{cur.minor_units}d}"
    if minor < 0:
        return "-" + body
    if sign and minor > 0:
        return "+" + body
    return body


def to_major_str(minor: int, currency: str = "NGN") -> str:
    """Plain major-unit string for pre-filling form fields: ``500050`` -> ``"5000.50"``."""
    _check_minor(minor)
    cur = get_currency(currency)
    whole, frac = divmod(abs(minor), 10**cur.minor_units)
    body = f"{whole}.{frac:0{cur.minor_units}d}" if cur.minor_units else str(whole)
    return "-" + body if minor < 0 else body
