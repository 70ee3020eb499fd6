"""Deterministic interleavings of two transactions on PostgreSQL.

`run_other_at(monkeypatch, module, name, other)` patches `module.name` so that the first call
to it (in the test's own thread, inside its transaction) starts `other` in a second thread with
its own session, and waits until `other` has either finished or is waiting on a row lock the
first transaction holds, before the first goes on. The order is chosen by the test, not by the
scheduler: on code that reads a status without a lock, `other` runs to completion in the gap;
on code that holds the right locks, `other` waits for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from lumipay.extensions import db
from tests.integration.helpers.bills import wait_for


def lock_waiters(query_like: str = "%") -> int:
    """Backends of this database waiting on a lock now (the other thread blocked behind ours),
    counting only those whose query is like `query_like`."""
    with db.engine.connect() as conn:
        return int(
            conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                    "AND query ILIKE :like"
                ),
                {"like": query_like},
            )
            or 0
        )


@dataclass
class Other:
    """The second transaction: its result or error once joined."""

    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None

    @property
    def started(self) -> bool:
        return self.thread is not None

    def join(self) -> Any:
        assert self.thread is not None, "the interleaving point was never reached"
        self.thread.join(60)
        assert not self.thread.is_alive(), "the other transaction never finished"
        if self.error is not None:
            raise self.error
        return self.result


def run_other_at(monkeypatch: Any, module: Any, name: str, other: Callable[[], Any]) -> Other:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    original = getattr(module, name)
    state = Other()

    def run() -> None:
        with app.app_context():
            try:
                state.result = other()
            except BaseException as exc:  # handed to the test by join()
                state.error = exc
            finally:
                db.session.remove()
                state.done.set()

    def patched(*args: Any, **kwargs: Any) -> Any:
        if not state.started:
            state.thread = threading.Thread(target=run)
            state.thread.start()
            wait_for(
                lambda: state.done.is_set() or lock_waiters() > 0,
                what="the other transaction to finish or wait on our locks",
            )
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, patched)
    return state
