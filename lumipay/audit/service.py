"""The audit trail. Callers pass who and where; this module never reads the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lumipay.audit.models import AuditEvent
from lumipay.extensions import db


@dataclass(frozen=True)
class Origin:
    """Where an action came from: the client's address and user agent (None for CLI and jobs)."""

    ip: str | None = None
    user_agent: str | None = None


SYSTEM = Origin(ip=None, user_agent="lumipay-system")


def record(
    action: str,
    origin: Origin,
    *,
    actor_id: int | None = None,
    subject: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit row to the current transaction; it commits with the action it describes."""
    event = AuditEvent(**row(action, origin, actor_id=actor_id, subject=subject, **details))
    db.session.add(event)
    return event


def row(
    action: str,
    origin: Origin,
    *,
    actor_id: int | None = None,
    subject: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    """An audit row's columns, for a caller that writes it inside a statement of its own (a
    transfer writes it in the same statement as its posting)."""
    return {
        "actor_id": actor_id,
        "action": action,
        "subject": subject,
        "details": details,
        "ip": origin.ip,
        "user_agent": (origin.user_agent or "")[:255] or None,
    }
