"""Human-readable, unique references for ledger transactions."""

from __future__ import annotations

import secrets

from lumipay.database import utcnow

# Crockford's base32: no I, L, O or U, so a reference read aloud over the phone is unambiguous.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference(prefix: str = "LP") -> str:
    """E.g. LP20261126K3F9QX2M7B: prefix, UTC date, ten random characters (50 bits)."""
    bits = secrets.randbits(50)
    suffix = "".join(ALPHABET[(bits >> shift) & 31] for shift in range(0, 50, 5))
    return f"{prefix}{utcnow():%Y%m%d}{suffix}"
