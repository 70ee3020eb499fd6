"""Small request-side helpers shared by the views (services never import this)."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, render_template, request, url_for
from flask_wtf import FlaskForm

from lumipay import settings
from lumipay.audit.service import Origin

# Document uploads may be larger than MAX_CONTENT_LENGTH: up to KYC_UPLOAD_MAX_BYTES plus the
# multipart framing and the form's other fields. Every other URL keeps the small limit.
UPLOAD_PATHS = frozenset({"/kyc/identity", "/kyc/address"})
UPLOAD_FORM_OVERHEAD = 64 * 1024

T = TypeVar("T")


def found_or_404(found: T | None) -> T:
    """What a lookup found, or a 404 when it found nothing (another customer's reference too)."""
    if found is None:
        abort(404)
    return found


def allow_uploads(app: Flask) -> None:
    """Give the upload URLs their larger body limit, on top of whatever request class the
    extensions installed (htmx-flask installs its own)."""

    # The base is the request class chosen at run time (htmx-flask's), not a static type.
    class UploadAwareRequest(app.request_class):  # type: ignore[name-defined]
        @property
        def max_content_length(self) -> int | None:
            if self.path in UPLOAD_PATHS:
                return settings.kyc().upload_max_bytes + UPLOAD_FORM_OVERHEAD
            limit: int | None = super().max_content_length
            return limit

    app.request_class = UploadAwareRequest


def form_page(template: str, form: FlaskForm, **context: Any) -> tuple[str, int]:
    """A form's page: 200 when it is first shown, 422 when it comes back refused."""
    status = 422 if form.is_submitted() else 200
    return render_template(template, form=form, **context), status


def request_origin() -> Origin:
    """The client's address and user agent, for the audit log.

    Behind Heroku's router the address comes from X-Forwarded-For via ProxyFix (see create_app).
    """
    return Origin(ip=request.remote_addr, user_agent=request.user_agent.string or None)


# C0 control characters other than tab, LF and CR: nobody types them, and PostgreSQL refuses NUL
# in text (psycopg2 raises ValueError, which would surface as a 500).
_CONTROL = frozenset(chr(c) for c in range(32) if chr(c) not in "\t\n\r") | {"\x7f"}


def refuse_control_characters() -> None:
    """before_request: a 400 for control characters in the path, query string or form."""
    values = [request.path, *request.args.values()]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values.extend(request.form.values())
    if any(_CONTROL.intersection(value) for value in values):
        abort(400)


def home_for(user: Any) -> str:
    """Where a signed-in person lands without a `next=`: the back office for admins, else the
    customer's home."""
    return url_for("admin.overview") if user.is_admin else url_for("accounts.dashboard")


def safe_next(target: str | None, default: str) -> str:
    """Follow `next=` only to a path on this site, never to another host."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        # Backslashes read as slashes in browsers; control characters (CR/LF) would end up
        # in the Location header, which Werkzeug refuses with a 500.
        return default
    return target
