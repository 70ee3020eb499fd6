"""Bills as reconciliation sees them: our side of a bills provider's settlement report."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from lumipay.bills.models import FAILED, SUCCEEDED, BillPayment
from lumipay.bills.service import bill_request
from lumipay.clock import day_after, day_start, lagos_day
from lumipay.extensions import db
from lumipay.providers import bills_provider_named, sandbox
from lumipay.providers import settlement_report as report
from lumipay.providers.bills import BillRequest
from lumipay.reconciliation import sources

STATUS: dict[str, str] = {SUCCEEDED: report.SUCCEEDED, FAILED: report.FAILED}


def bills_sent(provider: str, start: date, end: date) -> list[BillPayment]:
    """Bills sent to `provider` and created on the Lagos days start..end, oldest first."""
    lower, upper = day_start(start), day_after(end)
    return list(
        db.session.scalars(
            select(BillPayment)
            .where(
                BillPayment.provider == provider,
                BillPayment.submitted_at.is_not(None),
                BillPayment.created_at >= lower,
                BillPayment.created_at < upper,
            )
            .order_by(BillPayment.id)
        )
    )


def our_bills(provider: str, start: date, end: date) -> list[report.OurRecord]:
    """Our bills for the range and a day either side (a provider may settle after midnight)."""
    return [
        report.OurRecord(
            reference=bill.reference,
            external_id=bill.request_id,
            provider_ref=bill.provider_reference,
            amount=bill.amount,
            currency=bill.currency,
            status=STATUS.get(bill.status, report.PENDING),
            kind=bill.category,
            day=lagos_day(bill.created_at),
        )
        for bill in bills_sent(provider, start - timedelta(days=1), end + timedelta(days=1))
    ]


def _sent_to_sandbox(
    provider: str, start: date, end: date
) -> list[tuple[BillPayment, BillRequest, bool]]:
    """What the bills sandbox reports on: our bills sent to it, with their requests."""
    return [
        (bill, bill_request(bill), bill.status == SUCCEEDED)
        for bill in bills_sent(provider, start, end)
    ]


sandbox.use_bills_sent(_sent_to_sandbox)


sources.register_provider(
    "bills", "sandbox", "Bills sandbox", adapter=bills_provider_named, ours=our_bills, order=10
)
sources.register_provider(
    "bills", "vtpass", "VTpass (bills)", adapter=bills_provider_named, ours=our_bills, order=11
)
