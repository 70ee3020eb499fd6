"""Money in flight has one owner: hold owners, settlement subjects and expected states

Holds name their owner (bill, payout, card), so hold expiry asks the owner instead of
releasing blindly; existing holds get theirs from their reference. Settlement proposals can
name a payout or a top-up as well as a bill, record the status they expect at approval, and
carry a customer-facing narration apart from the internal reason. Top-ups left uncredited can
end returned to the payer.

Revision ID: 32a90bc8db79
Revises: bf17dfab97a3
Create Date: 2026-12-01 09:32:43.847131

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "32a90bc8db79"
down_revision = "bf17dfab97a3"
branch_labels = None
depends_on = None


ONE_SUBJECT = (
    "action = 'adjustment' OR (CASE WHEN bill_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN payout_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN topup_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade():
    # A hold nobody claims is 'unknown': no owner's expiry ends it (never released blindly).
    op.add_column(
        "ledger_holds",
        sa.Column("owner", sa.String(length=16), nullable=False, server_default="unknown"),
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
    with op.batch_alter_table("settlement_proposals") as batch:
        batch.add_column(sa.Column("payout_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("topup_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("expected_status", sa.String(length=20), nullable=True))
        batch.add_column(
            sa.Column("narration", sa.String(length=140), nullable=False, server_default="")
        )
        batch.create_index(batch.f("ix_settlement_proposals_payout_id"), ["payout_id"])
        batch.create_index(batch.f("ix_settlement_proposals_topup_id"), ["topup_id"])
        batch.create_foreign_key(
            batch.f("fk_settlement_proposals_payout_id_bank_payouts"),
            "bank_payouts",
            ["payout_id"],
            ["id"],
        )
        batch.create_foreign_key(
            batch.f("fk_settlement_proposals_topup_id_bank_topups"),
            "bank_topups",
            ["topup_id"],
            ["id"],
        )
        batch.drop_constraint(batch.f("ck_settlement_proposals_bill_action_has_bill"), "check")
        batch.create_check_constraint(
            batch.f("ck_settlement_proposals_action_has_one_subject"), ONE_SUBJECT
        )
    # Proposals waiting at upgrade expect what their bill is now (what approval checked before).
    op.execute(
        """
        UPDATE settlement_proposals SET expected_status =
            (SELECT status FROM bill_payments WHERE bill_payments.id = settlement_proposals.bill_id)
        WHERE bill_id IS NOT NULL
        """
    )
    with op.batch_alter_table("bank_topups") as batch:
        batch.drop_constraint(batch.f("ck_bank_topups_status_known"), "check")
        batch.create_check_constraint(
            batch.f("ck_bank_topups_status_known"),
            "status IN ('pending', 'credited', 'uncredited', 'reversed', 'returned')",
        )


def downgrade():
    with op.batch_alter_table("bank_topups") as batch:
        batch.drop_constraint(batch.f("ck_bank_topups_status_known"), "check")
        batch.create_check_constraint(
            batch.f("ck_bank_topups_status_known"),
            "status IN ('pending', 'credited', 'uncredited', 'reversed')",
        )
    with op.batch_alter_table("settlement_proposals") as batch:
        batch.drop_constraint(batch.f("ck_settlement_proposals_action_has_one_subject"), "check")
        batch.create_check_constraint(
            batch.f("ck_settlement_proposals_bill_action_has_bill"),
            "action = 'adjustment' OR bill_id IS NOT NULL",
        )
        batch.drop_constraint(
            batch.f("fk_settlement_proposals_topup_id_bank_topups"), type_="foreignkey"
        )
        batch.drop_constraint(
            batch.f("fk_settlement_proposals_payout_id_bank_payouts"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_settlement_proposals_topup_id"))
        batch.drop_index(batch.f("ix_settlement_proposals_payout_id"))
        batch.drop_column("narration")
        batch.drop_column("expected_status")
        batch.drop_column("topup_id")
        batch.drop_column("payout_id")
    op.drop_column("ledger_holds", "owner")
