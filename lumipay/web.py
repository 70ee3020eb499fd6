"""Small request-side helpers shared by the views (services never import this)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from lumipay.audit.service import Origin


def request_origin() -> Origin:
    """The client's address and user agent, for the audit log.

    Behind Heroku's router the address comes from X-Forwarded-For via ProxyFix (see create_app).
    """
    return Origin(ip=request.remote_addr, user_agent=request.user_agent.string or None)


def safe_next(target: str | None, default: str) -> str:
    """Follow `next=` only to a path on this site, never to another host."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target
