"""CBN NUBAN (Nigeria Uniform Bank Account Number) check digits.

A NUBAN is a 9-digit serial followed by one check digit. The check digit is computed over the
bank code followed by the serial, with weights cycling 3, 7, 3: the classic 3-digit bank code
form (12 digits, weights 373373373373) and the CBN 2020 6-digit form (15 digits). Five-digit
institution codes are prefixed with ``9`` to make six digits, as the CBN specifies.
"""

from __future__ import annotations

import random
import re
import secrets

_BANK_CODE = re.compile(r"[0-9]{3}|[0-9]{5,6}")
_SERIAL = re.compile(r"[0-9]{9}")
_ACCOUNT = re.compile(r"[0-9]{10}")
_WEIGHTS = (3, 7, 3)


def _normalise_bank_code(bank_code: str) -> str:
    if not isinstance(bank_code, str) or not _BANK_CODE.fullmatch(bank_code):
        raise ValueError("Bank code must be 3, 5 or 6 digits.")
    return "9" + bank_code if len(bank_code) == 5 else bank_code


def check_digit(bank_code: str, serial: str) -> int:
    """Return the NUBAN check digit for a 9-digit ``serial`` at ``bank_code``."""
    code = _normalise_bank_code(bank_code)
    if not isinstance(serial, str) or not _SERIAL.fullmatch(serial):
        raise ValueError("Account serial must be 9 digits.")
    total = sum(int(d) * _WEIGHTS[i % 3] for i, d in enumerate(code + serial))
    return (10 - total % 10) % 10


def make_account_number(bank_code: str, serial: str) -> str:
    """Return the 10-digit account number: ``serial`` followed by its check digit."""
    return serial + str(check_digit(bank_code, serial))


def is_valid_account_number(bank_code: str, account_number: str) -> bool:
    """True if ``account_number`` is 10 digits whose last digit is the right check digit.

    An invalid bank code is a programming error and still raises ``ValueError``.
    """
    _normalise_bank_code(bank_code)
    if not isinstance(account_number, str) or not _ACCOUNT.fullmatch(account_number):
        return False
    return check_digit(bank_code, account_number[:9]) == int(account_number[9])


def random_serial(rng: random.Random | None = None) -> str:
    """Return a random 9-digit serial; uses ``secrets`` unless a seeded ``rng`` is given."""
    n = secrets.randbelow(10**9) if rng is None else rng.randrange(10**9)
    return f"{n:09d}"
