"""The header's notifications: the newest five and the unread count of all, read in one
statement by pages that show the header and by nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select, update

from lumipay.auth.models import User
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.notifications.models import Notification
from lumipay.notifications.service import notify


@contextmanager
def notification_statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def before(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "FROM notifications" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def seven_notes_two_read(email: str) -> None:
    user_id = db.session.scalar(select(User.id).where(User.email == email))
    assert user_id is not None
    run_in_transaction(lambda: [notify(user_id, f"Note {n}", f"body {n}") for n in range(1, 8)])
    first_two = select(Notification.id).where(Notification.user_id == user_id).limit(2)
    run_in_transaction(
        lambda: db.session.execute(
            update(Notification)
            .where(Notification.id.in_(first_two.order_by(Notification.id)))
            .values(read_at=utcnow())
        )
    )


def test_the_header_shows_the_newest_five_and_counts_every_unread_in_one_statement(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    seven_notes_two_read(ada.email)
    with notification_statements() as seen:
        page = ada.get("/dashboard")
    assert len(seen) == 1
    header = page.html.find(id="header-notifications")
    assert header.find(attrs={"data-testid": "unread-count"}).text == "5"
    shown = [str(li.contents[0]).strip() for li in header.find_all("li")]
    assert shown == [f"Note {n}" for n in (7, 6, 5, 4, 3)]


def test_the_full_list_is_the_page_s_own_not_the_header_s(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    seven_notes_two_read(ada.email)
    page = ada.get("/notifications")
    listed = [li.find("strong").text for li in page.html.find(id="notifications").find_all("li")]
    assert listed == [f"Note {n}" for n in range(7, 0, -1)]
    assert len(page.html.find(id="notifications").select("li.unread")) == 5


def test_a_partial_reads_no_notifications_and_no_notes_means_no_badge(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    with notification_statements() as seen:
        partial = ada.get("/transfers/name-enquiry?to_account_number=0000000000")
    assert partial.status_int == 200 and seen == []
    page = ada.get("/dashboard")
    assert page.html.find(attrs={"data-testid": "unread-count"}) is None
