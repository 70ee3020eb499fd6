"""Bill jobs: the provider call, requeries, the periodic sweep and hold expiry."""

from __future__ import annotations

from lumipay.bills import service
from lumipay.database import run_in_transaction
from lumipay.jobs.queue import job
from lumipay.ledger import service as ledger


@job
def submit_bill(reference: str) -> str:
    return service.submit(reference)


@job
def requery_bill(reference: str) -> str:
    return service.requery(reference)


@job
def sweep_bills() -> dict[str, int]:
    return service.sweep()


@job
def expire_holds() -> int:
    """Release every hold whose time is up (bills, and later payouts and cards)."""
    return run_in_transaction(ledger.expire_holds)
