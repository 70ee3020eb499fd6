"""Errors to Sentry (only when SENTRY_DSN is set), scrubbed before they leave.

The SDK watches the web process (Flask), the worker (RQ) and the database calls (SQLAlchemy).
Every event and breadcrumb goes through `lumipay.scrub` in `before_send`/`before_breadcrumb`,
with `send_default_pii` off: no cookies, no client address, no name or email. The customer is
an opaque id (a keyed hash of the user's row id, so Sentry never learns who it is), and every
event carries the request id of its chain (`lumipay.requestid`), the release and environment.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

import sentry_sdk
from flask import g, has_request_context
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.rq import RqIntegration
from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration

from lumipay import requestid
from lumipay.scrub import scrub_data

_state: dict[str, bytes] = {}


def init(config: Mapping[str, Any]) -> bool:
    """Start the SDK for this process from the app's config; False when SENTRY_DSN is unset."""
    dsn = config.get("SENTRY_DSN")
    if not dsn:
        return False
    _state["key"] = str(config["SECRET_KEY"]).encode()
    options: dict[str, Any] = {
        "dsn": dsn,
        "release": config.get("SENTRY_RELEASE"),
        "environment": config.get("SENTRY_ENVIRONMENT") or config.get("LUMIPAY_ENV"),
        # send_default_pii stays at its default, off (passing it at all is deprecated in this
        # SDK, in favour of data_collection): no cookies, no client address, no user details.
        # Local variables hold names, emails and addresses in shapes no scrubber can be sure
        # to recognise (a model's repr, a half-built message): a bank sends none.
        "include_local_variables": False,
        "max_request_body_size": "medium",
        "traces_sample_rate": float(config.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
        "before_send": before_send,
        # Performance traces (when sampled) carry URLs and request data too: same treatment.
        "before_send_transaction": before_send,
        "before_breadcrumb": before_breadcrumb,
        "integrations": [
            FlaskIntegration(),
            RqIntegration(),
            SqlalchemyIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
    }
    sentry_sdk.init(**options)
    return True


def opaque_user_id(user_id: int) -> str:
    """Stable per customer, meaningless outside Lumipay (keyed with SECRET_KEY)."""
    key = _state.get("key", b"")
    return hmac.new(key, f"user:{user_id}".encode(), hashlib.sha256).hexdigest()[:20]


def _current_user_id() -> int | None:
    """The signed-in customer of this request, without touching the database."""
    if not has_request_context():
        return None
    claims = g.get("api_claims")
    if claims is not None:
        return int(claims.user_id)
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        return int(user.id)
    return None


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    """Scrub the event, then tag it with the request id and the opaque customer only.

    The tags are set after scrubbing so that an id is never mistaken for a number to mask.
    """
    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("env", None)
    scrubbed: dict[str, Any] = scrub_data(event)
    current = requestid.current()
    if current:
        scrubbed.setdefault("tags", {})["request_id"] = current
    try:
        user_id = _current_user_id()
    except Exception:  # an event about a broken request must still be sent
        user_id = None
    if user_id is not None:
        scrubbed["user"] = {"id": opaque_user_id(user_id)}
    return scrubbed


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    scrubbed: dict[str, Any] = scrub_data(crumb)
    return scrubbed
