"""Bills as reconciliation sees them: our side of a bills provider's settlement report."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from lumipay.bills.models import FAILED, SUCCEEDED, BillPayment
from lumipay.database import as_utc
from lumipay.extensions import db
from lumipay.reconciliation import report

STATUS = {SUCCEEDED: report.SUCCEEDED, FAILED: report.FAILED}


def bills_sent(provider: str, start: date, end: date) -> list[BillPayment]:
    """Bills sent to `provider` and created on the days start..end (UTC), oldest first."""
    lower = datetime.combine(start, time.min, tzinfo=UTC)
    upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
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
            day=as_utc(bill.created_at).date(),
        )
        for bill in bills_sent(provider, start - timedelta(days=1), end + timedelta(days=1))
    ]
