"""Payout jobs: the provider call, requeries and the periodic sweep."""

from __future__ import annotations

from lumipay.bank import service
from lumipay.jobs.queue import job_for

submit_payout = job_for(service.submit, __name__, "submit_payout")
requery_payout = job_for(service.requery, __name__, "requery_payout")
sweep_payouts = job_for(service.sweep, __name__, "sweep_payouts")
