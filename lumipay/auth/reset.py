"""Password reset by an emailed link: single use, expiring, and silent about who has an account.

The link carries 256 random bits; only their SHA-256 is stored. Links are built from
`PUBLIC_URL`, never from the request's Host header, so a forged Host cannot point a customer's
reset email at another site.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from lumipay import clock, settings
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth import sessions
from lumipay.auth.models import PasswordResetToken, User
from lumipay.auth.passwords import hash_password
from lumipay.auth.service import PasswordChangeError, check_new_password
from lumipay.database import as_utc, run_in_transaction
from lumipay.extensions import db
from lumipay.notifications.email import send_email

INVALID_LINK = "This reset link is not valid any more. Ask for a new one."


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_reset(email: str, *, origin: Origin) -> None:
    """Email a reset link if an account has this email; do the same visible nothing otherwise."""
    address = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(User.email == address)) if address else None
    if user is None:
        run_in_transaction(
            lambda: audit.record("password_reset_unknown", origin, subject=address[:120])
        )
        return
    token = secrets.token_urlsafe(32)
    lifetime = int(settings.auth().password_reset_seconds)

    def work() -> None:
        db.session.add(
            PasswordResetToken(
                user_id=user.id,
                token_hash=_hash(token),
                created_at=clock.now(),
                expires_at=clock.now() + timedelta(seconds=lifetime),
            )
        )
        audit.record("password_reset_requested", origin, actor_id=user.id)

    run_in_transaction(work)
    link = f"{settings.core().public_url}/auth/reset/{token}"
    send_email(
        user.email,
        "Reset your Lumipay password",
        f"Hello {user.first_name},\n\nTo choose a new password, open this link within "
        f"{lifetime // 60} minutes. It works once.\n\n{link}\n\n"
        f"The request came from {origin.ip or 'an unknown address'}. If you didn't ask, ignore "
        "this email: your password stays as it is.\n",
    )


def _live_token(token: str) -> PasswordResetToken | None:
    row = db.session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == _hash(token or ""))
    )
    if row is None or row.used_at is not None or as_utc(row.expires_at) <= clock.now():
        return None
    return row


def token_is_valid(token: str) -> bool:
    valid = _live_token(token) is not None
    db.session.rollback()
    return valid


def reset_password(token: str, new_password: str, *, origin: Origin) -> None:
    """Set a new password through a live link; the link and every other one stop working.

    Every signed-in session of the account ends, and a sign-in lock is lifted.
    """
    row = _live_token(token)
    if row is None:
        raise PasswordChangeError("token", INVALID_LINK)
    user = db.session.get(User, row.user_id)
    assert user is not None
    check_new_password(user, new_password)
    new_hash = hash_password(new_password)
    token_hash = _hash(token)

    def work() -> User:
        claimed = db.session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.token_hash == token_hash)
            .where(PasswordResetToken.used_at.is_(None))
            .values(used_at=clock.now())
        )
        if cast(CursorResult[Any], claimed).rowcount != 1:  # an UPDATE's result
            raise PasswordChangeError("token", INVALID_LINK)
        db.session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.user_id == row.user_id)
            .where(PasswordResetToken.used_at.is_(None))
            .values(used_at=clock.now())
        )
        fresh = db.session.get(User, row.user_id, populate_existing=True)
        assert fresh is not None
        fresh.password_hash = new_hash
        fresh.password_changed_at = clock.now()
        fresh.failed_logins = 0
        fresh.locked_until = None
        audit.record("password_reset", origin, actor_id=fresh.id)
        return fresh

    changed = run_in_transaction(work)
    sessions.end_all(changed.id, "password_reset")
    send_email(
        changed.email,
        "Your Lumipay password was reset",
        f"Hello {changed.first_name},\n\nYour password was reset from "
        f"{origin.ip or 'an unknown address'}, and every browser was signed out.\n\n"
        "If this wasn't you, contact us at once.\n",
    )
