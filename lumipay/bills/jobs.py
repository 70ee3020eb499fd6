"""Bill jobs: the provider call, requeries and the periodic sweep."""

from __future__ import annotations

from lumipay.bills import service
from lumipay.jobs.queue import job


@job
def submit_bill(reference: str) -> str:
    return service.submit(reference)


@job
def requery_bill(reference: str) -> str:
    return service.requery(reference)


@job
def sweep_bills() -> dict[str, int]:
    return service.sweep()
