"""Access and refresh tokens for the JSON API.

Every API sign-in is a row of `user_sessions` (kind api) keyed by its family id, beside the
browsers' rows, so it has the same idle and absolute lifetimes and ends with them: a password
change or reset, "sign out everywhere", a freeze or the Security page's "end" button.

Access tokens are JWTs (HS256, joserfc: Authlib's JOSE library, which Authlib 1.9 depends on
and points to in place of its deprecated `authlib.jose`), valid `JWT_ACCESS_SECONDS`. They
carry the user id and the sign-in's family id, and every request checks that the family's
sign-in is live and belongs to that user, so signing out ends them at once rather than when
they expire. A refresh token never outlives its sign-in's absolute end.

Refresh tokens are random strings, stored as SHA-256, valid `JWT_REFRESH_SECONDS` and good for
one use: a refresh returns a new pair and uses the old token up. A used token presented again
was copied (by an attacker, or by a client that lost a response): the whole family is revoked,
which signs out both holders (OAuth 2.0 Security BCP, refresh token rotation).

Times come from `lumipay.clock`, so tests move a fake clock instead of sleeping.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from sqlalchemy import select, update

from lumipay import clock, settings
from lumipay.api.models import RefreshToken
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth import sessions
from lumipay.auth.models import User
from lumipay.database import as_utc, locked, run_in_transaction
from lumipay.extensions import db

ISSUER = "lumipay"
ALGORITHM = "HS256"


class TokenError(Exception):
    """A token was refused; `slug` is the problem type to answer with."""

    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        self.slug = slug


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    family_id: str


def _key() -> OctKey:
    secret = settings.api().jwt_secret_key or settings.core().secret_key
    return OctKey.import_key(secret)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _access_token(user_id: int, family_id: str) -> str:
    now = int(clock.now().timestamp())
    # `sub` is the customer's public id: a token's claims are readable by whoever holds it,
    # and no sequential key leaves the database (it would tell how many customers there are).
    public_id = db.session.scalar(select(User.public_id).where(User.id == user_id))
    claims = {
        "iss": ISSUER,
        "sub": str(public_id),
        "fam": family_id,
        "iat": now,
        "exp": now + settings.api().jwt_access_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": ALGORITHM, "typ": "JWT"}, claims, _key())


def _new_refresh(user_id: int, family_id: str, ends_at: datetime) -> tuple[str, int]:
    """A refresh token that dies at the latest when its sign-in does; (token, seconds left)."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    expires = min(now + timedelta(seconds=settings.api().jwt_refresh_seconds), ends_at)
    db.session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=_hash(token),
            created_at=now,
            expires_at=expires,
        )
    )
    return token, max(0, int((expires - now).total_seconds()))


def _pair(user_id: int, family_id: str, refresh: tuple[str, int]) -> TokenPair:
    return TokenPair(
        _access_token(user_id, family_id),
        refresh[0],
        settings.api().jwt_access_seconds,
        refresh[1],
    )


def issue(user_id: int, *, origin: Origin) -> TokenPair:
    """Start a new API sign-in (a session row and its token family) for a proven user."""
    family_id = uuid.uuid4().hex

    def work() -> tuple[str, int]:
        sessions.add(user_id, origin=origin, kind=sessions.API, family_id=family_id)
        db.session.flush()
        row = sessions.api_row(family_id, user_id)
        assert row is not None
        audit.record("api_login", origin, actor_id=user_id, family=family_id)
        return _new_refresh(user_id, family_id, sessions.absolute_end(row))

    return _pair(user_id, family_id, run_in_transaction(work))


def verify_access(token: str) -> AccessClaims:
    """The claims of a valid, unexpired access token whose sign-in is live and belongs to the
    token's `sub`; else TokenError."""
    try:
        decoded = jwt.decode(token, _key(), algorithms=[ALGORITHM])
        jwt.JWTClaimsRegistry(
            now=int(clock.now().timestamp()),
            iss={"essential": True, "value": ISSUER},
            sub={"essential": True},
            exp={"essential": True},
            fam={"essential": True},
        ).validate(decoded.claims)
        public_id = uuid.UUID(str(decoded.claims["sub"]))
        family_id = str(decoded.claims["fam"])
    except (JoseError, ValueError, TypeError):
        raise TokenError("invalid-token") from None
    user_id = db.session.scalar(select(User.id).where(User.public_id == public_id))
    if user_id is None:
        raise TokenError("invalid-token")
    if sessions.check_api(family_id, user_id) is not None:
        raise TokenError("invalid-token")
    return AccessClaims(user_id, family_id)


def _revoke(family_id: str, reason: str) -> None:
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoke_reason=reason)
    )
    sessions.end_family(family_id, reason)


def rotate(refresh_token: str, *, origin: Origin) -> TokenPair:
    """Use a refresh token up and return the family's next pair; TokenError when refused.

    The token's row is locked, so two refreshes of one token run one after the other and the
    second is a reuse: it revokes the family.
    """

    def work() -> TokenPair | str:
        row = locked(RefreshToken, RefreshToken.token_hash == _hash(refresh_token or ""))
        if row is None or row.revoked_at is not None:
            return "invalid-refresh-token"
        if row.used_at is not None:
            _revoke(row.family_id, "reuse")
            audit.record("api_refresh_reused", origin, actor_id=row.user_id, family=row.family_id)
            return "refresh-token-reused"
        if clock.now() >= as_utc(row.expires_at):
            return "invalid-refresh-token"
        sign_in = sessions.api_row(row.family_id, row.user_id, lock=True)
        if sessions.judge_locked(sign_in) is not None or sign_in is None:
            return "invalid-refresh-token"
        row.used_at = clock.now()
        refresh = _new_refresh(row.user_id, row.family_id, sessions.absolute_end(sign_in))
        return _pair(row.user_id, row.family_id, refresh)

    # The revocation of a reused family must commit, so the refusal is raised after it.
    outcome = run_in_transaction(work)
    if isinstance(outcome, str):
        raise TokenError(outcome)
    return outcome


def revoke(family_id: str, *, user_id: int, origin: Origin, reason: str = "logout") -> None:
    """Sign out one sign-in: its refresh tokens and access tokens stop working."""

    def work() -> None:
        _revoke(family_id, reason)
        audit.record("api_logout", origin, actor_id=user_id, family=family_id)

    run_in_transaction(work)
