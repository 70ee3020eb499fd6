"""Ledger jobs: sealing new entries every minute and a periodic verify for the back office."""

from __future__ import annotations

from lumipay.database import run_in_transaction
from lumipay.jobs.queue import job
from lumipay.ledger import seal, verify


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
