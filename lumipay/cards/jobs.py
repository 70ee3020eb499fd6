"""Card jobs: the issuer calls that follow a change (issue a card, tell it a status), and the
periodic expiry of authorisations past the network's window."""

from __future__ import annotations

from datetime import datetime

from lumipay.cards import expiry, service
from lumipay.jobs.queue import job, job_for

issue_card = job_for(service.issue, __name__, "issue_card")
sync_card_status = job_for(service.sync_status, __name__, "sync_card_status")


@job
def expire_card_authorisations(now: datetime | None = None) -> int:
    """Periodic (rq cron, every minute): expire authorisations nobody cleared in time."""
    return expiry.expire_authorisations(now)
