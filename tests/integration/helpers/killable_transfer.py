"""A child process for the SIGKILL tests: it sends transfers through the real service.

Usage: python -m tests.integration.helpers.killable_transfer MODE USER_ID WALLET_ID TO KEY
MODE `pause` stops inside the database transaction, after the posting statement has written
the entries, balances, transfer row and audit row and before the commit, prints PAUSED and waits
to be killed (a transaction is opened first, so the statement doesn't commit on its own).
MODE `loop` sends 1 kobo transfers forever, printing DONE after each commit.
"""

from __future__ import annotations

import os
import sys
import uuid

from sqlalchemy import event, text

from lumipay import create_app
from lumipay.audit.service import SYSTEM
from lumipay.extensions import db
from lumipay.transfers.service import send_transfer


def main() -> None:
    mode, user_id, wallet_id, to_account, key = sys.argv[1:6]
    app = create_app({"SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"], "REDIS_URL": None})
    with app.app_context():
        if mode == "pause":

            @event.listens_for(db.engine, "commit")
            def pause(_conn) -> None:  # type: ignore[no-untyped-def]
                print("PAUSED", flush=True)
                sys.stdin.read()  # blocks until the parent kills us

            db.session.execute(text("SELECT 1"))

            send_transfer(
                int(user_id),
                int(wallet_id),
                to_account,
                100_000,
                "",
                idempotency_key=key,
                origin=SYSTEM,
            )
            return
        while True:
            send_transfer(
                int(user_id),
                int(wallet_id),
                to_account,
                1,
                "",
                idempotency_key=uuid.uuid4().hex,
                origin=SYSTEM,
            )
            print("DONE", flush=True)


if __name__ == "__main__":
    main()
