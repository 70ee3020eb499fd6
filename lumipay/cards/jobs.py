"""Card jobs: the issuer calls that follow a change (issue a card, tell it a status)."""

from __future__ import annotations

from lumipay.cards import service
from lumipay.jobs.queue import job


@job
def issue_card(reference: str) -> str:
    return service.issue(reference)


@job
def sync_card_status(reference: str) -> str:
    return service.sync_status(reference)
