"""A job's dotted name is what the outbox stores and the worker imports: each one a service
enqueues, or the cron schedule runs, must import as the job it names, counted by that name."""

from __future__ import annotations

import pytest
from rq.utils import import_attribute

from lumipay.bank import service as bank
from lumipay.bills import service as bills
from lumipay.cards import service as cards

NAMES = [
    bills.SUBMIT,
    bills.REQUERY,
    "lumipay.bills.jobs.sweep_bills",
    bank.SUBMIT,
    bank.REQUERY,
    "lumipay.bank.jobs.sweep_payouts",
    cards.ISSUE,
    cards.SYNC_STATUS,
]


@pytest.mark.parametrize("name", NAMES)
def test_a_job_imports_under_the_name_it_is_enqueued_by(name: str) -> None:
    found = import_attribute(name)
    assert f"{found.__module__}.{found.__qualname__}" == name
    assert found.__name__ == name.rsplit(".", 1)[1]  # the metrics label and the cron key
    assert hasattr(found, "__wrapped__"), "not run through lumipay.jobs.queue.job"
