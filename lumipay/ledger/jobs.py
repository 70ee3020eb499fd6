"""Ledger jobs: sealing new entries every minute, a periodic verify for the back office, and
handing holds whose time is up to their owners."""

from __future__ import annotations

from lumipay.database import run_in_transaction
from lumipay.jobs.queue import job
from lumipay.ledger import seal, verify
from lumipay.ledger import service as ledger


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
    decides under its own locks (lumipay.ledger.service.HOLD_OWNERS); returns how many ended."""
    return run_in_transaction(ledger.expire_holds)
