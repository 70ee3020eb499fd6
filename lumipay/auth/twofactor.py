"""The second factor: TOTP (RFC 6238) enrolment and checks, recovery codes, step-up rules.

A code is accepted within one 30-second step either side of now, and never twice: the last
accepted step is stored and the user row is locked while checking, so a code seen over a
shoulder or replayed by a twin request is refused.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pyotp.exceptions import OTPVerificationError
from sqlalchemy import select

from lumipay import clock, settings
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth.models import RecoveryCode, User
from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.refusals import Refused

ISSUER = "Lumipay"
RECOVERY_CODE_COUNT = 10
_TOTP_CODE = re.compile(r"[0-9]{6}")
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class TwoFactorError(Refused):
    """Turning two-step verification on or off was refused."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


def _fernet() -> MultiFernet:
    """TOTP secrets are encrypted at rest under `TOTP_ENCRYPTION_KEYS`: the first key encrypts,
    every key decrypts. Each key is any string of 32+ characters, stretched to a Fernet key."""
    keys = settings.auth().totp_encryption_keys
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(hashlib.sha256(k.encode()).digest())) for k in keys]
    )


def seal(secret: str) -> str:
    """The stored form of a Base32 secret."""
    return _fernet().encrypt(secret.encode()).decode()


def unseal(stored: str) -> str:
    """The Base32 secret from its stored form; a plain one from before encryption reads as is."""
    if not stored.startswith("gAAAA"):
        return stored
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken:
        return ""  # no key opens it: no code can match, so no second factor passes


def rotate_keys() -> int:
    """Re-encrypt every stored secret under the first key (after putting a new key in front);
    returns how many were rewritten. Plain secrets from before encryption get encrypted too."""

    def work() -> int:
        count = 0
        for user in db.session.scalars(
            select(User).where(User.totp_secret.is_not(None)).with_for_update()
        ):
            user.totp_secret = seal(unseal(user.totp_secret or ""))
            count += 1
        return count

    return run_in_transaction(work)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The enrolment QR code as an SVG `data:` URI (allowed by our CSP's img-src)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _clean(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()


def _matching_step(secret: str, code: str) -> int | None:
    """The time step whose code is `code`, looking one step either side of now."""
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(
            code, for_time=clock.now(), valid_window=1
        )
    except OTPVerificationError:
        return None


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def enable(user_id: int, secret: str, code: str, *, origin: Origin) -> list[str]:
    """Turn the second factor on once `code` proves the app holds `secret`.

    Returns the recovery codes in clear: the only time they exist outside the customer's hands.
    """
    cleaned = _clean(code)
    step = _matching_step(secret, cleaned) if _TOTP_CODE.fullmatch(cleaned) else None
    if step is None:
        raise TwoFactorError("That code doesn't match. Enter the 6 digits your app shows now.")
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]

    def work() -> None:
        user = db.session.get(User, user_id, with_for_update=True)
        assert user is not None
        if user.has_totp:
            raise TwoFactorError("Two-step verification is already on.")
        user.totp_secret = seal(secret)
        user.totp_enabled_at = clock.now()
        user.totp_last_step = step
        for old in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)):
            db.session.delete(old)
        db.session.add_all(
            RecoveryCode(user_id=user_id, code_hash=_hash_recovery(c)) for c in codes
        )
        audit.record("totp_enabled", origin, actor_id=user_id)

    run_in_transaction(work)
    return codes


def verify(user_id: int, code: str, *, origin: Origin) -> bool:
    """Check a TOTP code or an unused recovery code, and use it up. False when neither fits."""
    cleaned = _clean(code)

    def work() -> bool:
        user = db.session.get(User, user_id, with_for_update=True, populate_existing=True)
        if user is None or not user.has_totp:
            return False
        if _TOTP_CODE.fullmatch(cleaned):
            step = _matching_step(unseal(user.totp_secret or ""), cleaned)
            if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
                return False
            user.totp_last_step = step
            audit.record("totp_ok", origin, actor_id=user_id)
            return True
        if len(cleaned) != 16:
            return False
        recovery = db.session.scalar(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == _hash_recovery(cleaned),
                RecoveryCode.used_at.is_(None),
            )
        )
        if recovery is None:
            return False
        recovery.used_at = clock.now()
        audit.record("recovery_code_used", origin, actor_id=user_id)
        return True

    return run_in_transaction(work)


def recovery_codes_left(user_id: int) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def step_up_threshold(currency: str) -> int:
    """Amounts above this (minor units) need the second factor; foreign wallets have their own."""
    if currency == "NGN":
        return int(settings.auth().step_up_threshold)
    return int(settings.auth().step_up_threshold_foreign)


def step_up_needed(currency: str, amount: int) -> bool:
    return amount > step_up_threshold(currency)
