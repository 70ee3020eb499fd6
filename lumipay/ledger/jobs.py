"""Ledger jobs: sealing new entries every minute, a periodic verify for the back office, and
handing holds whose time is up to their owners."""

from __future__ import annotations

import logging
from functools import partial

from lumipay.database import run_in_transaction
from lumipay.jobs.queue import job
from lumipay.ledger import seal, verify
from lumipay.ledger import service as ledger

log = logging.getLogger(__name__)


@job
def seal_ledger() -> int:
    """Periodic (rq cron, every minute): seal the entries committed since the last block."""
    result = seal.seal_quietly()
    return result.entries if result else 0


@job
def verify_ledger() -> bool:
    """Periodic (rq cron, hourly): verify the whole ledger and keep the outcome."""
    report = verify.verify_ledger()
    run_in_transaction(lambda: verify.record_run(report))
    return report.ok


@job
def expire_holds() -> int:
    """Periodic (rq cron, every minute): hand each hold whose time is up to its owner, which
    decides under its own locks (lumipay.ledger.service.HOLD_OWNERS); returns how many ended.

    Each hold in a transaction of its own: an owner's locks (a card's, a payout's, the wallet
    behind them) are held for that hold only, never while the next owner's are asked for, and
    one hold that can't be ended now never holds the others back.
    """
    ended = 0
    for hold_id in ledger.holds_due():
        try:
            ended += run_in_transaction(partial(ledger.expire_holds, hold_ids=[hold_id]))
        except Exception:
            log.exception("a hold past its time could not be ended", extra={"hold_id": hold_id})
    return ended
