"""In-app notifications, written with the change they announce; the email leaves after commit."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, select, update

from lumipay.database import newest, run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.jobs import outbox
from lumipay.jobs.queue import job
from lumipay.notifications import email
from lumipay.notifications.models import Notification

log = logging.getLogger(__name__)


# The customer's email address by user id, registered by lumipay.auth (a layer above).
_email_addresses: list[Callable[[int], str]] = []


def use_email_addresses(email_of: Callable[[int], str]) -> None:
    """Register how a notification finds its recipient's address."""
    _email_addresses[:] = [email_of]


def notify(user_id: int, title: str, body: str = "", link: str | None = None) -> Notification:
    """Add a notification to the current transaction, and its email to the outbox."""
    note = Notification(user_id=user_id, title=title[:120], body=body[:500], link=link)
    db.session.add(note)
    db.session.flush()
    outbox.add("lumipay.notifications.service.send_email", note.id)
    return note


def recent(user_id: int, limit: int = 5) -> list[Notification]:
    return newest(Notification, Notification.user_id == user_id, limit=limit)


@dataclass(frozen=True)
class Header:
    """What every page's header shows: the newest notes and how many of all are unread."""

    notes: list[Notification]
    unread: int


@functools.cache
def _header_statement(limit: int) -> Select[Notification, int]:
    """Every page's header runs it, so it is built once (per limit); the user id is bound."""
    unread = func.count(Notification.id).filter(Notification.read_at.is_(None)).over()
    return (
        select(Notification, unread)
        .where(Notification.user_id == bindparam("user_id"))
        .order_by(Notification.id.desc())
        .limit(limit)
    )


def header(user_id: int, limit: int = 5) -> Header:
    """The header's notes and unread count in one statement: the count is a window over all
    the customer's notes, taken before the LIMIT keeps the newest."""
    rows = db.session.execute(_header_statement(limit), {"user_id": user_id}).all()
    return Header([note for note, _ in rows], int(rows[0][1]) if rows else 0)


def mark_all_read(user_id: int) -> None:
    run_in_transaction(
        lambda: db.session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
    )


def _claim_email(notification_id: int) -> Notification | None:
    """Mark the notification emailed and commit, before the email leaves; None when another
    run of the job marked it first (or it is gone). At most once: a send that fails after the
    claim is logged, never sent twice."""
    claimed = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.emailed_at.is_(None))
        .values(emailed_at=utcnow())
        .returning(Notification.id)
    ).scalar()
    db.session.commit()
    return db.session.get(Notification, claimed) if claimed is not None else None


@job
def send_email(notification_id: int) -> None:
    """Email a notification once, through the one mailer (lumipay.notifications.email)."""
    note = _claim_email(notification_id)
    if note is None:
        return
    address = _email_addresses[0](note.user_id)
    email.send_email(address, note.title, note.body)
