"""A proposed manual settlement, and the decision on it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, utcnow
from lumipay.extensions import Model
from lumipay.lifecycle import Lifecycle, one_step

MARK_SUCCEEDED, MARK_FAILED, ADJUSTMENT = "mark_succeeded", "mark_failed", "adjustment"
ACTIONS = {
    MARK_SUCCEEDED: "Mark succeeded (capture the hold; credit an uncredited top-up)",
    MARK_FAILED: "Mark failed and refund (return an uncredited top-up)",
    ADJUSTMENT: "Post an adjustment between named accounts",
}


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


PENDING, APPROVED = ProposalStatus.PENDING, ProposalStatus.APPROVED
REJECTED = ProposalStatus.REJECTED
# A different admin decides once.
TRANSITIONS = one_step(PENDING, APPROVED, REJECTED)


class SettlementProposal(
    Lifecycle, Model, what="settlement", statuses=ProposalStatus, transitions=TRANSITIONS
):
    """Maker-checker: nothing moves until a different admin approves.

    The database itself refuses a decision by the proposer (`checker_is_not_maker`). A proposal
    about a bill, payout or top-up records the status it was proposed in (`expected_status`):
    approval is refused if the item moved since. `reason` is internal (audit, back office);
    `narration` is what the customer's history says for an adjustment, never the reason.
    """

    __tablename__ = "settlement_proposals"
    __table_args__ = (
        CheckConstraint(
            "action IN ('mark_succeeded', 'mark_failed', 'adjustment')", name="action_known"
        ),
        CheckConstraint(
            "decided_by IS NULL OR decided_by <> proposed_by", name="checker_is_not_maker"
        ),
        CheckConstraint("action <> 'adjustment' OR amount > 0", name="adjustment_amount_positive"),
        CheckConstraint(
            "action = 'adjustment' OR (CASE WHEN bill_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN payout_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN topup_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="action_has_one_subject",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bill_payments.id"), index=True)
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("bank_payouts.id"), index=True)
    topup_id: Mapped[int | None] = mapped_column(ForeignKey("bank_topups.id"), index=True)
    expected_status: Mapped[str | None] = mapped_column(String(20))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("reconciliation_items.id"))
    debit_account_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500))
    narration: Mapped[str] = mapped_column(String(140), default="")
    proposed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))

    @property
    def label(self) -> str:
        return ACTIONS[self.action]
