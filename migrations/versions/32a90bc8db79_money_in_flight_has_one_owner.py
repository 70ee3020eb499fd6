"""Money in flight has one owner: hold owners, settlement subjects and expected states

Holds name their owner (bill, payout, card), so hold expiry asks the owner instead of
releasing blindly; existing holds get theirs from their reference. Settlement proposals can
name a payout or a top-up as well as a bill, record the status they expect at approval, and
carry a customer-facing narration apart from the internal reason. Top-ups left uncredited can
end returned to the payer.

Revision ID: 32a90bc8db79
Revises: 2aa9f42b40a6
Create Date: 2026-12-01 09:32:43.847131

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "32a90bc8db79"
down_revision = "2aa9f42b40a6"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "ledger_holds", sa.Column("owner", sa.String(length=16), nullable=False, server_default="")
    )
    op.execute(
        """
        UPDATE ledger_holds SET owner = CASE
            WHEN id IN (SELECT hold_id FROM bill_payments) THEN 'bill'
            WHEN id IN (SELECT hold_id FROM bank_payouts) THEN 'payout'
            WHEN reference LIKE 'card:%' THEN 'card'
            ELSE 'unknown' END
        """
    )
    op.alter_column("ledger_holds", "owner", server_default=None)

    op.add_column("settlement_proposals", sa.Column("payout_id", sa.BigInteger(), nullable=True))
    op.add_column("settlement_proposals", sa.Column("topup_id", sa.BigInteger(), nullable=True))
    op.add_column(
        "settlement_proposals", sa.Column("expected_status", sa.String(length=20), nullable=True)
    )
    op.add_column(
        "settlement_proposals",
        sa.Column("narration", sa.String(length=140), nullable=False, server_default=""),
    )
    op.alter_column("settlement_proposals", "narration", server_default=None)
    # Proposals waiting at upgrade expect what their bill is now (what approval checked before).
    op.execute(
        """
        UPDATE settlement_proposals AS p SET expected_status = b.status
        FROM bill_payments AS b WHERE p.bill_id = b.id
        """
    )
    op.create_index(
        op.f("ix_settlement_proposals_payout_id"), "settlement_proposals", ["payout_id"]
    )
    op.create_index(op.f("ix_settlement_proposals_topup_id"), "settlement_proposals", ["topup_id"])
    op.create_foreign_key(
        op.f("fk_settlement_proposals_payout_id_bank_payouts"),
        "settlement_proposals",
        "bank_payouts",
        ["payout_id"],
        ["id"],
    )
    op.create_foreign_key(
        op.f("fk_settlement_proposals_topup_id_bank_topups"),
        "settlement_proposals",
        "bank_topups",
        ["topup_id"],
        ["id"],
    )
    op.drop_constraint(
        op.f("ck_settlement_proposals_bill_action_has_bill"), "settlement_proposals", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_settlement_proposals_action_has_one_subject"),
        "settlement_proposals",
        "action = 'adjustment' OR num_nonnulls(bill_id, payout_id, topup_id) = 1",
    )
    op.drop_constraint(op.f("ck_bank_topups_status_known"), "bank_topups", type_="check")
    op.create_check_constraint(
        op.f("ck_bank_topups_status_known"),
        "bank_topups",
        "status IN ('pending', 'credited', 'uncredited', 'returned')",
    )


def downgrade():
    op.drop_constraint(op.f("ck_bank_topups_status_known"), "bank_topups", type_="check")
    op.create_check_constraint(
        op.f("ck_bank_topups_status_known"),
        "bank_topups",
        "status IN ('pending', 'credited', 'uncredited')",
    )
    op.drop_constraint(
        op.f("ck_settlement_proposals_action_has_one_subject"),
        "settlement_proposals",
        type_="check",
    )
    op.create_check_constraint(
        op.f("ck_settlement_proposals_bill_action_has_bill"),
        "settlement_proposals",
        "action = 'adjustment' OR bill_id IS NOT NULL",
    )
    op.drop_constraint(
        op.f("fk_settlement_proposals_topup_id_bank_topups"),
        "settlement_proposals",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("fk_settlement_proposals_payout_id_bank_payouts"),
        "settlement_proposals",
        type_="foreignkey",
    )
    op.drop_index(op.f("ix_settlement_proposals_topup_id"), table_name="settlement_proposals")
    op.drop_index(op.f("ix_settlement_proposals_payout_id"), table_name="settlement_proposals")
    op.drop_column("settlement_proposals", "narration")
    op.drop_column("settlement_proposals", "expected_status")
    op.drop_column("settlement_proposals", "topup_id")
    op.drop_column("settlement_proposals", "payout_id")
    op.drop_column("ledger_holds", "owner")
