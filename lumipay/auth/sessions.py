"""Server-side sign-in sessions: start, check (idle and absolute timeouts), rotate, end.

The browser's cookie carries a random token; the table keeps its SHA-256, so a database leak
does not hand out live sessions. A copied cookie dies when its row ends: at sign-out, sign-out
everywhere, a password change or reset, or a timeout.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from lumipay import clock
from lumipay.audit.service import Origin
from lumipay.auth.models import UserSession
from lumipay.database import as_utc, run_in_transaction
from lumipay.extensions import db

# last_seen_at is written at most this often, so a page view is not a write every time.
TOUCH_EVERY = timedelta(seconds=30)

IDLE = "idle"
EXPIRED = "expired"
ENDED = "ended"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user_id: int, *, origin: Origin) -> str:
    """Open a session for the user; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = clock.now()

    def work() -> None:
        db.session.add(
            UserSession(
                user_id=user_id,
                token_hash=_hash(token),
                created_at=now,
                last_seen_at=now,
                ip=origin.ip,
                user_agent=(origin.user_agent or "")[:255] or None,
            )
        )

    run_in_transaction(work)
    return token


def check(token: str | None, user_id: int) -> str | None:
    """None when the session is live (and marks it seen), else why not: IDLE, EXPIRED, ENDED."""
    if not token:
        return ENDED
    row = db.session.scalar(
        select(UserSession).where(
            UserSession.token_hash == _hash(token), UserSession.user_id == user_id
        )
    )
    if row is None or row.ended_at is not None:
        db.session.rollback()
        return ENDED
    now = clock.now()
    config = current_app.config
    reason = None
    if now - as_utc(row.created_at) > timedelta(seconds=config["SESSION_MAX_SECONDS"]):
        reason = EXPIRED
    elif now - as_utc(row.last_seen_at) > timedelta(seconds=config["SESSION_IDLE_SECONDS"]):
        reason = IDLE
    if reason is not None:
        row.ended_at, row.end_reason = now, reason
        db.session.commit()
        return reason
    if now - as_utc(row.last_seen_at) >= TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    else:
        db.session.rollback()
    return None


def end(token: str | None, reason: str) -> None:
    if not token:
        return
    run_in_transaction(
        lambda: db.session.execute(
            update(UserSession)
            .where(UserSession.token_hash == _hash(token), UserSession.ended_at.is_(None))
            .values(ended_at=clock.now(), end_reason=reason)
        )
    )


def end_all(user_id: int, reason: str, *, keep: str | None = None) -> None:
    """End every live session of the user, except the one whose token is `keep`."""
    query = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.ended_at.is_(None)
    )
    if keep:
        query = query.where(UserSession.token_hash != _hash(keep))
    run_in_transaction(
        lambda: db.session.execute(query.values(ended_at=clock.now(), end_reason=reason))
    )


def live_sessions(user_id: int) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
            .order_by(UserSession.created_at.desc())
        )
    )
