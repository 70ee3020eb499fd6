"""Bill jobs: the provider call, requeries and the periodic sweep."""

from __future__ import annotations

from lumipay.bills import service
from lumipay.jobs.queue import job_for

submit_bill = job_for(service.submit, __name__, "submit_bill")
requery_bill = job_for(service.requery, __name__, "requery_bill")
sweep_bills = job_for(service.sweep, __name__, "sweep_bills")
