"""admin/reconcile and admin/provider-report: the back office's reconciliation through the API,
for admins only (a customer's token gets 404, as on the back-office pages). Admins sign in with
their password and a one-time code (`otp_code`)."""

from __future__ import annotations

from datetime import timedelta

from lumipay import clock
from lumipay.api import schemas
from lumipay.api.problems import field_problem, refusal_problem
from lumipay.api.routing import operation
from lumipay.auth.models import User
from lumipay.reconciliation import service
from lumipay.reconciliation.models import QUEUED
from lumipay.web import request_origin

REPORT_DAYS = 13  # the page's default range: the last two weeks


@operation(
    "POST", "/admin/reconcile", summary="Queue a reconciliation run", tag="admin",
    body=schemas.ReconcileIn, responses={202: schemas.ReconcileOut}, admin=True,
    problems=(401, 404, 422),
)  # fmt: skip
def reconcile(user: User, body: schemas.ReconcileIn) -> tuple[int, schemas.ReconcileOut]:
    """Compares a provider's settlement report with our records for `start`..`end` (at most
    93 days) in the background; the run and its exceptions are on /admin/reconciliation.
    `provider` is a source name such as `bills-sandbox`. Not idempotent
    by key: a repeat queues another run, which is harmless (runs only read and compare)."""
    try:
        run_id = service.request_run(
            body.provider, body.start, body.end, requested_by=user.id, origin=request_origin()
        )
    except service.ReconciliationError as exc:
        raise refusal_problem(exc, "reconciliation-refused") from None
    return 202, schemas.ReconcileOut(run_id=run_id, status=QUEUED)


@operation(
    "GET", "/admin/provider-report", summary="What each provider settled, per day", tag="admin",
    query=schemas.ReportQuery, responses={200: schemas.ReportOut}, admin=True,
    problems=(401, 404, 422),
)  # fmt: skip
def provider_report(user: User, query: schemas.ReportQuery) -> tuple[int, schemas.ReportOut]:
    """The /admin/provider-report page's rows: per provider and day, from the latest completed
    run covering it, what we expected (`expected`), what it settled and what is `outstanding`."""
    del user
    end = query.end or clock.today()
    start = query.start or end - timedelta(days=REPORT_DAYS)
    if end < start:
        raise field_problem(
            "validation-error", "end", "The end date must be on or after the start date."
        )
    rows = [
        schemas.ReportRowOut(
            provider=row.provider,
            day=row.day,
            expected=row.expected,
            settled=row.settled,
            outstanding=row.outstanding,
            run_id=row.run_id,
        )
        for row in service.provider_report(start, end)
    ]
    return 200, schemas.ReportOut(start=start, end=end, rows=rows)
