"""What the settlements page (and the console's overview) show a person: held operations
flagged or at the provider too long, and money that arrived but could not be credited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, or_, select

from lumipay.bank.models import TOPUP_UNCREDITED, Payout, TopUp
from lumipay.bills.models import PROCESSING, BillPayment
from lumipay.database import newest, utcnow
from lumipay.extensions import db


def _stuck_query(model: Any, stuck_setting: str) -> Select[Any]:
    """Held operations a person must look at: flagged, or at the provider longer than the
    kind's stuck time."""
    stuck_before = utcnow() - timedelta(seconds=current_app.config[stuck_setting])
    return select(model).where(
        or_(
            model.needs_attention.is_(True),
            (model.status == PROCESSING) & (model.created_at <= stuck_before),
        )
    )


def stuck_bills_query() -> Select[Any]:
    """Bills a person must look at: flagged, or processing longer than BILLS_STUCK_AFTER."""
    return _stuck_query(BillPayment, "BILLS_STUCK_AFTER")


def stuck_bills(limit: int = 50) -> list[BillPayment]:
    return list(
        db.session.scalars(stuck_bills_query().order_by(BillPayment.id.desc()).limit(limit))
    )


def stuck_payouts(limit: int = 50) -> list[Payout]:
    """Payouts a person must look at: flagged, or processing longer than PAYOUT_STUCK_AFTER."""
    query = _stuck_query(Payout, "PAYOUT_STUCK_AFTER")
    return list(db.session.scalars(query.order_by(Payout.id.desc()).limit(limit)))


def uncredited_topups(limit: int = 50) -> list[TopUp]:
    """Money that arrived and could not be credited, waiting for a person."""
    return newest(TopUp, TopUp.status == TOPUP_UNCREDITED, limit=limit)
