"""Gauges read from the domain's tables when Prometheus scrapes /metrics.

Registered into `lumipay.metrics` by the app factory (this module sits at the composition root,
so it may read every domain). Each query is small and indexed: active holds by status, stuck
bills and payouts by status, today's postings by the transactions' created_at index, the latest
reconciliation run per provider and the latest ledger verification.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import case, func, select

from lumipay import settings
from lumipay.bank.models import PROCESSING as PAYOUT_PROCESSING
from lumipay.bank.models import Payout
from lumipay.bills.models import PROCESSING as BILL_PROCESSING
from lumipay.bills.models import BillPayment
from lumipay.database import as_utc, utcnow
from lumipay.extensions import db
from lumipay.ledger.models import (
    Account,
    Entry,
    Hold,
    HoldStatus,
    LedgerTransaction,
    VerificationRun,
)
from lumipay.reconciliation.models import (
    COMPLETED,
    EXCEPTIONS,
    ReconciliationItem,
    ReconciliationRun,
)

LAGOS = ZoneInfo("Africa/Lagos")
# Age bands of money in flight (active holds), in seconds: label -> lower bound.
AGE_BANDS = (("under_5m", 0), ("5m_to_1h", 300), ("1h_to_24h", 3600), ("over_24h", 86400))


def collect() -> Iterator[GaugeMetricFamily]:
    """Every domain gauge; the session is left clean (read-only, rolled back)."""
    try:
        yield _in_flight()
        yield from _stuck()
        yield _moved_today()
        yield _reconciliation()
        yield from _ledger_verification()
    finally:
        db.session.rollback()


def _in_flight() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "lumipay_money_in_flight_minor",
        "Money held for operations not yet final (active holds), in minor units, by age.",
        labels=["currency", "age"],
    )
    now = utcnow()
    band = case(
        *[
            (Hold.created_at <= now - timedelta(seconds=lower), label)
            for label, lower in reversed(AGE_BANDS[1:])
        ],
        else_=AGE_BANDS[0][0],
    )
    rows = db.session.execute(
        select(Account.currency, band, func.sum(Hold.amount))
        .join(Account, Account.id == Hold.account_id)
        .where(Hold.status == HoldStatus.ACTIVE)
        .group_by(Account.currency, band)
    ).all()
    found = {(currency, age): int(total or 0) for currency, age, total in rows}
    currencies = sorted({currency for currency, _ in found} | {"NGN"})
    for currency in currencies:
        for label, _ in AGE_BANDS:
            family.add_metric([currency, label], found.get((currency, label), 0))
    return family


def _stuck() -> Iterator[GaugeMetricFamily]:
    now = utcnow()
    bills = db.session.scalar(
        select(func.count(BillPayment.id)).where(
            BillPayment.status == BILL_PROCESSING,
            BillPayment.created_at <= now - timedelta(seconds=settings.bills().stuck_after),
        )
    )
    family = GaugeMetricFamily(
        "lumipay_bills_stuck",
        "Bills still processing BILLS_STUCK_AFTER seconds after they were made.",
    )
    family.add_metric([], int(bills or 0))
    yield family
    since = func.coalesce(Payout.submitted_at, Payout.reviewed_at, Payout.created_at)
    payouts = db.session.scalar(
        select(func.count(Payout.id)).where(
            Payout.status == PAYOUT_PROCESSING,
            since <= now - timedelta(seconds=settings.bank().payout_stuck_after),
        )
    )
    family = GaugeMetricFamily(
        "lumipay_payouts_stuck",
        "Payouts still with the provider PAYOUT_STUCK_AFTER seconds after they were sent.",
    )
    family.add_metric([], int(payouts or 0))
    yield family


def _moved_today() -> GaugeMetricFamily:
    """Credits posted since midnight in Lagos, by kind: every movement's size counted once."""
    family = GaugeMetricFamily(
        "lumipay_money_moved_today_minor",
        "Money moved since midnight (Africa/Lagos), in minor units, by posting kind.",
        labels=["kind", "currency"],
    )
    midnight = datetime.combine(utcnow().astimezone(LAGOS).date(), time(), LAGOS)
    rows = db.session.execute(
        select(LedgerTransaction.kind, Entry.currency, func.sum(Entry.amount))
        .join(Entry, Entry.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.created_at >= midnight, Entry.amount > 0)
        .group_by(LedgerTransaction.kind, Entry.currency)
    ).all()
    for kind, currency, total in sorted(rows):
        family.add_metric([kind, currency], int(total or 0))
    return family


def _reconciliation() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "lumipay_reconciliation_exceptions",
        "Exceptions (anything but matched) in each provider's latest completed reconciliation.",
        labels=["provider"],
    )
    latest = (
        select(ReconciliationRun.provider, func.max(ReconciliationRun.id).label("run_id"))
        .where(ReconciliationRun.status == COMPLETED)
        .group_by(ReconciliationRun.provider)
        .subquery()
    )
    rows = db.session.execute(
        select(latest.c.provider, func.count(ReconciliationItem.id))
        .select_from(latest)
        .outerjoin(
            ReconciliationItem,
            (ReconciliationItem.run_id == latest.c.run_id)
            & ReconciliationItem.outcome.in_(EXCEPTIONS),
        )
        .group_by(latest.c.provider)
    ).all()
    for provider, count in sorted(rows):
        family.add_metric([provider], int(count))
    return family


def _ledger_verification() -> Iterator[GaugeMetricFamily]:
    """The latest `ledger verify` run; nothing before the first one has run."""
    run = db.session.scalars(
        select(VerificationRun).order_by(VerificationRun.id.desc()).limit(1)
    ).first()
    ok = GaugeMetricFamily(
        "lumipay_ledger_verify_ok", "1 when the latest `ledger verify` found no drift, else 0."
    )
    at = GaugeMetricFamily(
        "lumipay_ledger_verify_timestamp_seconds", "When the latest `ledger verify` ran."
    )
    if run is not None:
        ok.add_metric([], 1 if run.ok else 0)
        at.add_metric([], as_utc(run.created_at).timestamp())
    yield ok
    yield at
