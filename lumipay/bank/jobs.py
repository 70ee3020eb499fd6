"""Payout jobs: the provider call, requeries and the periodic sweep."""

from __future__ import annotations

from lumipay.bank import service
from lumipay.jobs.queue import job


@job
def submit_payout(reference: str) -> str:
    return service.submit(reference)


@job
def requery_payout(reference: str) -> str:
    return service.requery(reference)


@job
def sweep_payouts() -> dict[str, int]:
    return service.sweep()
