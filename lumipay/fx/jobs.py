"""FX jobs: the periodic rate refresh (`rq cron`, every three minutes)."""

from __future__ import annotations

from lumipay.fx import service
from lumipay.jobs.queue import job


@job
def fx_update() -> int:
    return service.update_rates()
