"""Request-side session handling: sign in and out, rotate, and enforce timeouts on every request.

Views call these; services never do (they take plain values). The Flask session cookie carries
Flask-Login's user id and our session token (`sid`), which `sessions.check` validates against
the server-side row before any view runs.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from htmx_flask import request as htmx_request
from werkzeug.wrappers import Response

from lumipay import settings
from lumipay.auth import debits, sessions
from lumipay.auth import service as auth
from lumipay.auth.models import User
from lumipay.forms import show_refusal
from lumipay.web import request_origin

SID = "sid"
# Pages an admin without a second factor may still reach: enrolment itself and signing out.
ENROLMENT_ENDPOINTS = {"auth.two_factor_setup", "auth.logout", "static", "health.healthz"}


def sign_in(user: User) -> None:
    """Start a fresh session: nothing from before sign-in survives (no session fixation)."""
    session.clear()
    token = sessions.start(user.id, origin=request_origin())
    login_user(user)
    session[SID] = token


def rotate() -> None:
    """A new session id after a privilege change (second factor turned on, password changed)."""
    old = session.get(SID)
    session[SID] = sessions.start(current_user.id, origin=request_origin())
    sessions.end(old, "rotated")


def sign_out(reason: str = "logout") -> None:
    sessions.end(session.get(SID), reason)
    logout_user()
    session.clear()


def _message(reason: str) -> str:
    if reason == sessions.IDLE:
        minutes = max(1, settings.auth().session_idle_seconds // 60)
        return f"For your security you were signed out after {minutes} minutes without activity."
    if reason == sessions.EXPIRED:
        return "Your session reached its time limit. Please sign in again."
    return "You were signed out. Please sign in again."


def enforce() -> Response | None:
    """before_request: end idle, expired or revoked sessions; keep admins to enrolment."""
    if request.endpoint in (None, "static") or request.blueprint in ("api", "api_docs"):
        # The JSON API reads no session: bearer tokens only (lumipay.api.bearer).
        return None
    user_id = session.get("_user_id")
    if user_id is None:
        return None
    reason, user = sessions.check(session.get(SID), int(user_id))
    if reason is not None:
        logout_user()
        session.clear()
        flash(_message(reason), "info")
        if htmx_request.htmx:
            response = Response(status=401)
            response.headers["HX-Redirect"] = url_for("auth.login")
            return response
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("auth.login"), code=303)
    # Flask-Login loads the user here, while `user` keeps it in the session's identity map:
    # its primary-key get is answered without a second statement.
    if (
        current_user.is_authenticated
        and user is not None
        and user.is_admin
        and not user.has_totp
        and request.endpoint not in ENROLMENT_ENDPOINTS
    ):
        flash("Administrators must turn on two-step verification first.", "info")
        return redirect(url_for("auth.two_factor_setup"))
    return None


def authorise_debit(form: Any, debit: debits.Debit, idempotency_key: str) -> debits.Authorised:
    """A page's confirm step: the one debit check, with its refusal put on the form's field.

    Raises DebitRefused for the view to show its confirm page again; wrong app codes that lock
    the sign-in end this browser's session and go to sign-in instead.
    """
    proof = debits.Proof(
        pin=_data(form, "pin"),
        otp_code=_data(form, "otp_code"),
        email_code=_data(form, "email_code"),
    )
    try:
        return debits.authorise_debit(
            current_user.id, debit, proof, origin=request_origin(), idempotency_key=idempotency_key
        )
    except debits.DebitRefused as exc:
        if exc.signed_out:
            sign_out("locked")
            flash(auth.FAILED_LOGIN_MESSAGE, "error")
            abort(redirect(url_for("auth.login"), code=303))
        show_refusal(form, exc, otherwise="flash")
        raise


def _data(form: Any, name: str) -> str | None:
    field = getattr(form, name, None)
    return (field.data or None) if field is not None else None


def debit_needs(debit: debits.Debit) -> debits.Needs:
    """What the confirm page should ask for."""
    return debits.needs(current_user, debit)
