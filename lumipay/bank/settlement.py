"""Bank top-ups and payouts as reconciliation sees them: our side of a bank's settlement report.

A top-up is expected in the provider's report once money arrived for it (credited, or received
but left uncredited for a person); a payout once it went to the provider. Each is dated by when
it settled, as the providers date their lines: a top-up when credited (else when recorded), a
payout when settled (else when sent).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select

from lumipay.bank.models import (
    FAILED,
    PROCESSING,
    SUCCEEDED,
    TOPUP_CREDITED,
    TOPUP_UNCREDITED,
    Payout,
    TopUp,
)
from lumipay.clock import day_after, day_start, lagos_day
from lumipay.extensions import db
from lumipay.providers import bank_provider_named, bank_sandbox
from lumipay.providers import settlement_report as report
from lumipay.reconciliation import sources

PAYOUT_STATUS: dict[str, str] = {SUCCEEDED: report.SUCCEEDED, FAILED: report.FAILED}


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return day_start(start), day_after(end)


def topup_day(topup: TopUp) -> date:
    return lagos_day(topup.credited_at or topup.created_at)


def payout_day(payout: Payout) -> date:
    return lagos_day(payout.settled_at or payout.submitted_at or payout.created_at)


def topups_received(provider: str, start: date, end: date) -> list[TopUp]:
    """Top-ups through `provider` whose money arrived on the Lagos days start..end."""
    lower, upper = _bounds(start, end)
    day = func.coalesce(TopUp.credited_at, TopUp.created_at)
    return list(
        db.session.scalars(
            select(TopUp)
            .where(
                TopUp.provider == provider,
                TopUp.status.in_((TOPUP_CREDITED, TOPUP_UNCREDITED)),
                TopUp.provider_reference.is_not(None),
                day >= lower,
                day < upper,
            )
            .order_by(TopUp.id)
        )
    )


def payouts_sent(provider: str, start: date, end: date) -> list[Payout]:
    """Payouts that went to `provider`, settled (or sent, if not yet settled) start..end."""
    lower, upper = _bounds(start, end)
    day = func.coalesce(Payout.settled_at, Payout.submitted_at, Payout.created_at)
    return list(
        db.session.scalars(
            select(Payout)
            .where(
                Payout.provider == provider,
                or_(
                    Payout.status.in_((SUCCEEDED, FAILED)),
                    (Payout.status == PROCESSING) & Payout.submitted_at.is_not(None),
                ),
                day >= lower,
                day < upper,
            )
            .order_by(Payout.id)
        )
    )


def our_bank_records(provider: str, start: date, end: date) -> list[report.OurRecord]:
    """Our top-ups and payouts for the range and a day either side (a bank may settle late)."""
    start, end = start - timedelta(days=1), end + timedelta(days=1)
    topups = [
        report.OurRecord(
            reference=topup.reference,
            external_id=None,
            provider_ref=topup.provider_reference,
            amount=topup.amount_paid or 0,
            currency=topup.currency_paid or topup.currency,
            status=report.SUCCEEDED,
            kind="topup",
            day=topup_day(topup),
        )
        for topup in topups_received(provider, start, end)
    ]
    payouts = [
        report.OurRecord(
            reference=payout.reference,
            external_id=None,
            provider_ref=payout.provider_reference,
            amount=payout.amount,
            currency=payout.currency,
            status=PAYOUT_STATUS.get(payout.status, report.PENDING),
            kind="payout",
            day=payout_day(payout),
        )
        for payout in payouts_sent(provider, start, end)
    ]
    return topups + payouts


def _through_sandbox(
    provider: str, start: date, end: date
) -> tuple[list[tuple[TopUp, date]], list[tuple[Payout, date]]]:
    """What a bank sandbox reports on: our top-ups and payouts through it, with their days."""
    topups = [(topup, topup_day(topup)) for topup in topups_received(provider, start, end)]
    payouts = [(payout, payout_day(payout)) for payout in payouts_sent(provider, start, end)]
    return topups, payouts


bank_sandbox.use_bank_records(_through_sandbox)


sources.register_provider(
    "bank",
    "moniepoint",
    "Moniepoint (top-ups and payouts)",
    adapter=bank_provider_named,
    ours=our_bank_records,
    order=20,
)
sources.register_provider(
    "bank", "uba", "UBA (payouts)", adapter=bank_provider_named, ours=our_bank_records, order=21
)
