"""Who is calling: the user behind `Authorization: Bearer <access token>`.

The API reads no cookie and no session, so a browser's signed-in session never authorises an
API call (and CSRF can't reach the API).
"""

from __future__ import annotations

from flask import g, request
from flask_limiter.util import get_remote_address

from lumipay.api import tokens
from lumipay.api.problems import Problem
from lumipay.auth.models import User
from lumipay.extensions import db

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="lumipay"'}
INVALID = {"WWW-Authenticate": 'Bearer realm="lumipay", error="invalid_token"'}


def _presented() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem("invalid-token", headers=INVALID)
    return token.strip()


def current_user() -> User:
    """The caller, or Problem 401 (no token, or an invalid, expired or revoked one)."""
    token = _presented()
    if token is None:
        raise Problem("authentication-required", headers=CHALLENGE)
    try:
        claims = tokens.verify_access(token)
    except tokens.TokenError as exc:
        raise Problem(exc.slug, headers=INVALID) from None
    user = db.session.get(User, claims.user_id)
    if user is None:
        raise Problem("invalid-token", headers=INVALID)
    g.api_claims = claims
    return user


def by_bearer() -> str:
    """Rate-limit key: the token's user, else the client address (runs before the view)."""
    try:
        token = _presented()
        if token:
            return f"user:{tokens.verify_access(token).user_id}"
    except (Problem, tokens.TokenError):
        pass
    return get_remote_address()
