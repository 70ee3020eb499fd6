"""The transaction PIN: four digits that authorise every debit, pages and API alike.

Ten thousand values make a slow hash pointless (and a per-check scrypt would cap throughput),
so the PIN is stored as HMAC-SHA256 under `PIN_HMAC_KEY`, a key from the environment that the
database never holds: a database leak alone can't be searched. What protects the PIN is the
online lockout: `PIN_LOCK_THRESHOLD` (5) wrong tries in a row lock it until it is reset, which
needs the password plus the second factor when enrolled, otherwise the password plus an emailed
link. Setting, changing, locking and resetting are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
from datetime import timedelta

from lumipay import clock, settings
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth import service as auth
from lumipay.auth import twofactor
from lumipay.auth.models import User
from lumipay.auth.passwords import verify_password
from lumipay.database import as_utc, locked, run_in_transaction
from lumipay.extensions import db
from lumipay.notifications.email import send_email
from lumipay.refusals import Refused

RESET_PURPOSE = "pin_reset"
RESET_SECONDS = 30 * 60
LOCKED_MESSAGE = (
    "Your transaction PIN is locked after too many wrong tries. Reset it from the Security page."
)


class PinError(Refused):
    """A PIN was refused; `code` is the API problem type, `field` the form field."""

    field: str
    code: str

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(field, message, code=code)


def pin_problem(pin: str) -> str | None:
    """Why `pin` can't be a PIN (4 digits, not all the same, not a run like 1234 or 9876)."""
    if len(pin or "") != 4 or not pin.isascii() or not pin.isdigit():
        return "Your PIN is exactly 4 digits."
    digits = [int(d) for d in pin]
    if len(set(digits)) == 1:
        return "Don't use one digit four times: that is the first PIN anyone tries."
    steps = {b - a for a, b in itertools.pairwise(digits)}
    if steps in ({1}, {-1}):
        return "Don't use digits in a row (like 1234 or 4321): choose four harder to guess."
    return None


def _digest(user_id: int, pin: str) -> str:
    """The keyed HMAC; the user id is in the message so two customers' equal PINs differ."""
    key = str(settings.auth().pin_hmac_key).encode()
    return hmac.new(key, f"{user_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def _locked_user(user_id: int) -> User:
    user = locked(User, User.id == user_id)
    if not isinstance(user, User):
        raise LookupError(user_id)
    return user


def _store(user: User, pin: str, action: str, origin: Origin) -> None:
    problem = pin_problem(pin)
    if problem:
        raise PinError("validation-error", "pin", problem)
    user.pin_hash = _digest(user.id, pin)
    user.pin_set_at = clock.now()
    user.pin_failures = 0
    user.pin_locked_at = None
    audit.record(action, origin, actor_id=user.id)


def set_first_pin(user_id: int, pin: str, *, origin: Origin) -> None:
    """Set the PIN of a customer who has none (right after registering)."""

    def work() -> None:
        user = _locked_user(user_id)
        if user.has_pin:
            raise PinError("pin-already-set", "pin", "You already have a PIN: change it instead.")
        _store(user, pin, "pin_set", origin)

    run_in_transaction(work)


def change_pin(user_id: int, current_pin: str, new_pin: str, *, origin: Origin) -> None:
    """A new PIN after the current one; a wrong current PIN counts toward the lock."""
    verify(user_id, current_pin, origin=origin, field="current_pin")
    run_in_transaction(lambda: _store(_locked_user(user_id), new_pin, "pin_changed", origin))


def is_locked(user: User) -> bool:
    return user.pin_locked_at is not None


def verify(user_id: int, pin: str, *, origin: Origin, field: str = "pin") -> None:
    """Pass, or raise PinError (pin-not-set, pin-locked, pin-invalid). Failures commit."""

    def work() -> str | None:
        user = _locked_user(user_id)
        if not user.has_pin:
            return "pin-not-set"
        if is_locked(user):
            return "pin-locked"
        if hmac.compare_digest(user.pin_hash or "", _digest(user_id, str(pin or "")[:8])):
            user.pin_failures = 0
            return None
        user.pin_failures = (user.pin_failures or 0) + 1
        audit.record("pin_failed", origin, actor_id=user_id, failures=user.pin_failures)
        if user.pin_failures >= settings.auth().pin_lock_threshold:
            user.pin_locked_at = clock.now()
            audit.record("pin_locked", origin, actor_id=user_id)
            return "pin-locked-now"
        return "pin-invalid"

    outcome = run_in_transaction(work)
    if outcome is None:
        return
    if outcome == "pin-not-set":
        raise PinError(outcome, field, "Set your transaction PIN first, on the Security page.")
    if outcome == "pin-locked-now":
        user = db.session.get(User, user_id)
        if user is not None:
            send_email(
                user.email,
                "Your Lumipay transaction PIN is locked",
                f"Hello {user.first_name},\n\nYour transaction PIN was entered wrongly "
                f"{settings.auth().pin_lock_threshold} times and is now locked: no money "
                "can leave your account until you reset it from the Security page.\n\n"
                "If this wasn't you, change your password now.\n",
            )
        raise PinError("pin-locked", field, LOCKED_MESSAGE)
    if outcome == "pin-locked":
        raise PinError("pin-locked", field, LOCKED_MESSAGE)
    raise PinError("pin-invalid", field, "That PIN is not right.")


def _check_password(user: User, password: str, origin: Origin) -> None:
    if auth.is_locked(user):
        raise PinError("invalid-credentials", "password", auth.FAILED_LOGIN_MESSAGE)
    if not verify_password(user.password_hash, password or ""):
        auth.record_failed_password(user.id, origin=origin)
        raise PinError("invalid-credentials", "password", "That is not your password.")


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def reset_with_second_factor(
    user_id: int, password: str, otp_code: str, new_pin: str, *, origin: Origin
) -> None:
    """Reset a (locked or forgotten) PIN: the password and the app's code, at once."""
    user = db.session.get(User, user_id)
    assert user is not None and user.has_totp
    _check_password(user, password, origin)
    if not twofactor.verify(user_id, otp_code or "", origin=origin):
        auth.record_failed_second_factor(user_id, origin=origin)
        raise PinError("otp-invalid", "otp_code", "That code doesn't match.")
    run_in_transaction(lambda: _store(_locked_user(user_id), new_pin, "pin_reset", origin))


def send_reset_link(user_id: int, password: str, *, origin: Origin) -> None:
    """Without a second factor: the password, then a single-use link by email."""
    user = db.session.get(User, user_id)
    assert user is not None
    _check_password(user, password, origin)
    token = secrets.token_urlsafe(32)

    def work() -> None:
        fresh = _locked_user(user_id)
        fresh.email_code_hash = _code_hash(token)
        fresh.email_code_purpose = RESET_PURPOSE
        fresh.email_code_expires_at = clock.now() + timedelta(seconds=RESET_SECONDS)
        audit.record("pin_reset_requested", origin, actor_id=user_id)

    run_in_transaction(work)
    link = f"{settings.core().public_url}/auth/pin/reset/{token}"
    send_email(
        user.email,
        "Reset your Lumipay transaction PIN",
        f"Hello {user.first_name},\n\nTo choose a new transaction PIN, open this link within "
        f"{RESET_SECONDS // 60} minutes. It works once.\n\n{link}\n\n"
        "If you didn't ask, change your password now: someone knows it.\n",
    )


def reset_with_link(user_id: int, token: str, new_pin: str, *, origin: Origin) -> None:
    """Set a new PIN through the emailed link (signed in as the same customer)."""

    def work() -> None:
        user = _locked_user(user_id)
        live = (
            user.email_code_purpose == RESET_PURPOSE
            and user.email_code_expires_at is not None
            and as_utc(user.email_code_expires_at) > clock.now()
            and hmac.compare_digest(user.email_code_hash or "", _code_hash(token or ""))
        )
        if not live:
            raise PinError("invalid-link", "pin", "This link is not valid any more.")
        _store(user, new_pin, "pin_reset", origin)
        user.email_code_hash = user.email_code_purpose = user.email_code_expires_at = None

    run_in_transaction(work)
