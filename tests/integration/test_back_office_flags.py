"""What the back office must keep showing (issue 17): every reconciliation exception until a
person resolves it, whatever runs came after (case 5), and a bank webhook whose data can't be
applied, marked failed with its reason instead of raising in its job (case 6)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import select

from lumipay.audit.service import SYSTEM
from lumipay.clock import lagos_day
from lumipay.database import utcnow
from lumipay.extensions import db
from lumipay.ledger.verify import verify_ledger
from lumipay.reconciliation import service as reconciliation
from lumipay.reconciliation.models import ReconciliationRun
from lumipay.settlements import service as settlements
from lumipay.webhooks.models import WebhookEvent
from tests.integration.helpers.bank import (
    BANK_SECRET,
    SECRET,
    WEBHOOK,
    bank_delivery,
    reference_in,
    settle,
    start_topup,
    topup,
)
from tests.integration.test_bank_topups import CHECKOUT, payment_event
from tests.integration.test_transfers import balances_on_dashboard


def attention(admin_user, label: str) -> int:  # type: ignore[no-untyped-def]
    """The count the overview's "Needs attention" list gives for `label`."""
    page = admin_user.get("/admin")
    item = next(li for li in page.html.select("ul.attention li") if label in li.text)
    return int(re.sub(r"\D", "", item.find("strong").text))


def test_open_exceptions_of_three_nightly_runs_all_count_until_resolved(
    ctx, admin, app, monkeypatch
):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "SANDBOX_RECON_DISCREPANCIES", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)  # each run is carried out at once
    today = lagos_day(utcnow())
    run_ids = [
        run_id
        for nights_ago in (3, 2, 1)
        for run_id in reconciliation.request_nightly(today - timedelta(days=nights_ago - 1))
    ]
    runs = [db.session.get(ReconciliationRun, run_id) for run_id in run_ids]
    assert {run.status for run in runs} == {"completed"}
    assert len({run.provider for run in runs}) < len(runs)  # later runs of the same providers
    per_night = [run.exceptions for run in runs]
    assert all(per_night), per_night  # every night found something open
    tola = admin("Tola Bello")
    label = "Reconciliation exceptions not yet resolved"
    assert settlements.open_exceptions() == sum(per_night)
    assert attention(tola, label) == sum(per_night)

    # Reconciling the last night again finds its exceptions again: they still count once.
    last = runs[-1]
    again = reconciliation.request_run(
        last.provider, last.start_on, last.end_on, requested_by=None, origin=SYSTEM
    )
    assert db.session.get(ReconciliationRun, again).exceptions == last.exceptions
    assert settlements.open_exceptions() == sum(per_night)


@pytest.fixture()
def bank_webhooks(app, redis_clean, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(
        app.config, "WEBHOOK_SECRETS", {"bills": SECRET, "bank": BANK_SECRET, "cards": ""}
    )
    monkeypatch.setitem(app.config, "SANDBOX_DELAY", 0)
    monkeypatch.setitem(app.config, "BANK_PROVIDER_MODE", "sandbox")
    return redis_clean


@pytest.mark.parametrize(
    ("amount", "why"),
    [("-5000.00", "not an amount in kobo: '-5000.00'"), ("5000.505", "'5000.505'")],
    ids=["negative", "fractional"],
)
def test_a_bad_amount_in_a_bank_webhook_is_a_flagged_failure_not_a_stuck_job(
    ctx, register, web, admin, bank_webhooks, amount, why
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(start_topup(ada, "5,000", CHECKOUT))
    event_type, data = payment_event(reference=reference)
    data["amountPaid"] = data["totalPayable"] = amount
    raw, headers = bank_delivery(event_type, data)
    assert web.post(WEBHOOK, raw, headers=headers).status_int == 200
    settle()

    event = db.session.scalars(select(WebhookEvent).where(WebhookEvent.channel == "bank")).one()
    assert event.outcome == "failed" and event.processed_at is not None
    assert why in (event.failure or "")
    webhooks = Queue("webhooks", connection=bank_webhooks)
    assert webhooks.count == 0
    assert webhooks.failed_job_registry.count == 0
    assert webhooks.scheduled_job_registry.count == 0  # no retry waiting either
    assert topup(reference).status == "pending"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    tola = admin("Tola Bello")
    assert attention(tola, "Webhook events that failed") == 1
    assert verify_ledger().ok
