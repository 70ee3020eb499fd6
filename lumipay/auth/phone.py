"""Phone number normalisation to E.164, with Nigerian local formats understood."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[ \-()]")
_NG_NATIONAL = re.compile(r"[789][0-9]{9}")
_INTERNATIONAL = re.compile(r"[1-9][0-9]{7,14}")
_MESSAGE = "Enter a valid phone number, e.g. 0803 123 4567."


class InvalidPhone(ValueError):
    """A phone number that cannot be normalised; ``str()`` is safe to show the customer."""

    def __init__(self, message: str = _MESSAGE) -> None:
        super().__init__(message)


def _nigerian(national: str) -> str:
    # People often keep the trunk 0 after the country code: "+234 0803 ...".
    if national.startswith("0"):
        national = national[1:]
    if not _NG_NATIONAL.fullmatch(national):
        raise InvalidPhone()
    return "+234" + national


def normalise_phone(text: str) -> str:
    """Return ``text`` as an E.164 number, e.g. ``"0803 123 4567"`` -> ``"+2348031234567"``.

    Spaces, dashes and parentheses are ignored. Nigerian numbers may be local (``080...``),
    ``234...`` or ``+234...``; other countries must be given as ``+`` and 8-15 digits.
    """
    if not isinstance(text, str):
        raise InvalidPhone()
    s = _SEPARATORS.sub("", text.strip())
    if s.startswith("+"):
        digits = s[1:]
        if digits.startswith("234"):
            return _nigerian(digits[3:])
        if _INTERNATIONAL.fullmatch(digits):
            return "+" + digits
        raise InvalidPhone()
    if s.startswith("234"):
        return _nigerian(s[3:])
    if s.startswith("0") and len(s) == 11:
        return _nigerian(s)
    raise InvalidPhone()
