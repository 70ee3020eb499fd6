"""Reconciliation jobs: one run (queued through the outbox) and the nightly schedule."""

from __future__ import annotations

from lumipay import clock
from lumipay.jobs.queue import job
from lumipay.reconciliation import service


@job
def run_reconciliation(run_id: int) -> str:
    return service.carry_out(run_id)


@job
def reconcile_providers() -> list[int]:
    """Nightly (rq cron): reconcile every configured provider for the previous Lagos day."""
    return service.request_nightly(clock.today())
