"""Server-side sign-ins, web and API: start, check (idle and absolute timeouts), rotate, end.

The browser's cookie carries a random token; the table keeps its SHA-256, so a database leak
does not hand out live sessions. An API sign-in is a row too, keyed by its refresh-token family,
which every access token names. A copied cookie or token dies when its row ends: at sign-out,
sign-out everywhere, a password change or reset, a freeze, or a timeout. Each kind has its own
idle and absolute lifetime; refreshing an API sign-in never moves its absolute end.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, select, update

from lumipay import clock, settings
from lumipay.audit.service import Origin
from lumipay.auth.models import User, UserSession
from lumipay.database import as_utc, run_in_transaction
from lumipay.extensions import db

# last_seen_at is written at most this often, so a page view is not a write every time.
TOUCH_EVERY = timedelta(seconds=30)

IDLE = "idle"
EXPIRED = "expired"
ENDED = "ended"

WEB = "web"
API = "api"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_hash(token: str | None) -> str | None:
    """What the table stores for a cookie's token (to mark "this browser" on the Security page)."""
    return _hash(token) if token else None


def add(user_id: int, *, origin: Origin, kind: str = WEB, family_id: str | None = None) -> str:
    """Add a sign-in row to the current transaction; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    db.session.add(
        UserSession(
            user_id=user_id,
            token_hash=_hash(token),
            kind=kind,
            family_id=family_id,
            created_at=now,
            last_seen_at=now,
            ip=origin.ip,
            user_agent=(origin.user_agent or "")[:255] or None,
        )
    )
    return token


def start(user_id: int, *, origin: Origin) -> str:
    """Open a browser session for the user; returns the token for the cookie."""
    return run_in_transaction(lambda: add(user_id, origin=origin))


def _lifetimes(kind: str) -> tuple[int, int]:
    """(absolute, idle) seconds for a kind of sign-in."""
    if kind == API:
        return settings.auth().api_session_max_seconds, settings.auth().api_session_idle_seconds
    return settings.auth().session_max_seconds, settings.auth().session_idle_seconds


def absolute_end(row: UserSession) -> datetime:
    """When the sign-in ends whatever it does: refreshes and activity never move this."""
    return as_utc(row.created_at) + timedelta(seconds=_lifetimes(row.kind)[0])


def _judge(row: UserSession | None) -> str | None:
    """None when the row is live (and marks it seen, uncommitted), else why not."""
    if row is None or row.ended_at is not None:
        return ENDED
    now = clock.now()
    idle = timedelta(seconds=_lifetimes(row.kind)[1])
    reason = None
    if now >= absolute_end(row):
        reason = EXPIRED
    elif now - as_utc(row.last_seen_at) > idle:
        reason = IDLE
    if reason is not None:
        row.ended_at, row.end_reason = now, reason
        return reason
    if now - as_utc(row.last_seen_at) >= TOUCH_EVERY:
        row.last_seen_at = now
    return None


def _settle(reason: str | None, row: UserSession | None) -> str | None:
    """Commit what `_judge` wrote (an end or a touch), or nothing."""
    if row is not None and db.session.is_modified(row):
        db.session.commit()
    else:
        db.session.rollback()
    return reason


# The statement every page request runs, built once (building it each time cost more CPU
# than running it); the cookie's token hash and the user id are bound per call.
_LIVE_WEB_SESSION = (
    select(UserSession, User)
    .join(User, User.id == UserSession.user_id)
    .where(
        UserSession.token_hash == bindparam("token_hash"),
        UserSession.user_id == bindparam("user_id"),
        UserSession.kind == WEB,
    )
)


def check(token: str | None, user_id: int) -> tuple[str | None, User | None]:
    """(None, the user) when the browser session is live (and marks it seen), else
    (IDLE, EXPIRED or ENDED, None).

    Every page request runs this, so it is one statement: the row and its user come together.
    While the caller holds the user, it stays in the session's identity map (which keeps only
    what is referenced), so Flask-Login's `load_user`, a primary-key get, is answered without
    a statement. Nothing written (the usual case, between
    touches) is not rolled back: the request's reads go on in the transaction this one began,
    as they would have after `load_user`'s own read.
    """
    if not token:
        return ENDED, None
    found = db.session.execute(
        _LIVE_WEB_SESSION, {"token_hash": _hash(token), "user_id": user_id}
    ).first()
    row, user = found if found is not None else (None, None)
    reason = _judge(row)
    if row is not None and db.session.is_modified(row):
        db.session.commit()
    return reason, (user if reason is None else None)


def api_row(family_id: str, user_id: int, *, lock: bool = False) -> UserSession | None:
    """The API sign-in of this family, only if it belongs to `user_id`."""
    query = select(UserSession).where(
        UserSession.family_id == family_id,
        UserSession.user_id == user_id,
        UserSession.kind == API,
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def check_api(family_id: str, user_id: int) -> str | None:
    """None when the API sign-in is live and is `user_id`'s (marks it seen), else why not."""
    row = api_row(family_id, user_id)
    return _settle(_judge(row), row)


def judge_locked(row: UserSession | None) -> str | None:
    """`_judge` inside the caller's transaction (a refresh): the caller commits."""
    return _judge(row)


def end_family(family_id: str, reason: str) -> None:
    """End one API sign-in, inside the caller's transaction."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.family_id == family_id, UserSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason)
    )


def end_one(user_id: int, session_id: int, reason: str) -> bool:
    """End one of the user's sign-ins (the Security page); False when it isn't theirs or live."""

    def work() -> int:
        done = db.session.execute(
            update(UserSession)
            .where(
                UserSession.id == session_id,
                UserSession.user_id == user_id,
                UserSession.ended_at.is_(None),
            )
            .values(ended_at=clock.now(), end_reason=reason)
        )
        # An UPDATE's result is a CursorResult, which has the count; Session.execute is typed
        # as returning its base class.
        return int(cast(CursorResult[Any], done).rowcount)

    return run_in_transaction(work) == 1


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


def end_all_now(user_id: int, reason: str, *, keep: str | None = None) -> None:
    """`end_all` inside the caller's transaction (a freeze, a reset)."""
    query = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.ended_at.is_(None)
    )
    if keep:
        query = query.where(UserSession.token_hash != _hash(keep))
    db.session.execute(query.values(ended_at=clock.now(), end_reason=reason))


def end_all(user_id: int, reason: str, *, keep: str | None = None) -> None:
    """End every live sign-in of the user, browsers and API clients, except the browser whose
    token is `keep`."""
    run_in_transaction(lambda: end_all_now(user_id, reason, keep=keep))


def live_sessions(user_id: int) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
            .order_by(UserSession.created_at.desc())
        )
    )
