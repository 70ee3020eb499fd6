"""What needs a person now: the overview's "needs attention" list.

Each domain contributes a count and the page where it is worked. Pending payouts and the KYC
queue join this list when their domains land.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from lumipay.admin import queries
from lumipay.reconciliation import service as reconciliation
from lumipay.settlements import service as settlements


@dataclass(frozen=True)
class Attention:
    label: str
    count: int
    url: str


def attention_counts() -> list[Attention]:
    return [
        Attention(
            "Stuck bills (flagged, or processing too long)",
            queries.count(queries.stuck_bills_query()),
            url_for("admin.settlements"),
        ),
        Attention(
            "Reconciliation exceptions (latest run per provider)",
            reconciliation.open_exceptions(),
            url_for("admin.reconciliation"),
        ),
        Attention(
            "Settlements awaiting a second admin",
            settlements.pending_count(),
            url_for("admin.settlements"),
        ),
    ]
