"""What needs a person now: the overview's "needs attention" list.

Each domain contributes a count and the page where it is worked. Stuck bills, stuck payouts
and top-ups left uncredited are worked on the settlements page (maker-checker); card
transactions flagged, top-ups the provider took back and webhook events that failed have no page
of their own yet: they show on the customer's page (or keep their reason in the inbox), so their
line carries no link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import url_for
from sqlalchemy import ColumnElement, func, select

from lumipay.admin import queries
from lumipay.bank import reversals
from lumipay.bank.models import AWAITING_APPROVAL, TOPUP_UNCREDITED, Payout, TopUp
from lumipay.cards.models import CardTransaction
from lumipay.extensions import db
from lumipay.kyc.models import PENDING, KycSubmission
from lumipay.settlements import service as settlements
from lumipay.settlements import stuck
from lumipay.webhooks import service as webhooks
from lumipay.webhooks.models import WebhookEvent


@dataclass(frozen=True)
class Attention:
    label: str
    count: int
    url: str | None


def _count(model: Any, *where: ColumnElement[bool]) -> int:
    return int(db.session.scalar(select(func.count(model.id)).where(*where)) or 0)


def attention_counts() -> list[Attention]:
    return [
        Attention(
            "Payouts awaiting approval",
            _count(Payout, Payout.status == AWAITING_APPROVAL),
            url_for("admin.payouts"),
        ),
        Attention(
            "Payouts flagged (stuck with the provider, or told two answers)",
            _count(Payout, Payout.needs_attention.is_(True)),
            url_for("admin.settlements"),
        ),
        Attention(
            "KYC submissions waiting for review",
            _count(KycSubmission, KycSubmission.status == PENDING),
            url_for("admin.kyc_queue"),
        ),
        Attention(
            "Top-ups received but not credited",
            _count(TopUp, TopUp.status == TOPUP_UNCREDITED),
            url_for("admin.settlements"),
        ),
        Attention(
            "Top-ups the provider took back (reversed, charged back, refunded)",
            reversals.attention_count(),
            None,
        ),
        Attention(
            "Provider events not understood (kept in the inbox)",
            _count(WebhookEvent, WebhookEvent.outcome == reversals.UNHANDLED),
            None,
        ),
        Attention(
            "Card transactions flagged",
            _count(CardTransaction, CardTransaction.needs_attention.is_(True)),
            None,
        ),
        Attention(
            "Stuck bills (flagged, or processing too long)",
            queries.count(stuck.stuck_bills_query()),
            url_for("admin.settlements"),
        ),
        Attention(
            "Reconciliation exceptions not yet resolved",
            settlements.open_exceptions(),
            url_for("admin.reconciliation"),
        ),
        Attention(
            "Webhook events that failed (their data could not be applied)",
            webhooks.failed_count(),
            None,
        ),
        Attention(
            "Settlements awaiting a second admin",
            settlements.pending_count(),
            url_for("admin.settlements"),
        ),
    ]
