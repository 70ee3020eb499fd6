"""A base for the Hypothesis state machines that drive the services on PostgreSQL: each run
works inside the app's context and ends with empty tables."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from hypothesis.stateful import RuleBasedStateMachine

from lumipay.extensions import db
from tests.conftest import TABLES


class AppMachine(RuleBasedStateMachine):
    app: Flask

    def __init__(self) -> None:
        super().__init__()
        self.context = self.app.app_context()
        self.context.push()

    def teardown(self) -> None:
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        self.context.pop()
