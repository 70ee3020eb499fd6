"""Payees found by index in the audit rows: step-up's "first payment to this account?"
(lumipay.auth.debits, on every step one and confirm of a transfer or a payout) read every audit
row its customer had, through the actor index, to find none: a cost that grew with each
customer's history. Two partial indexes find the payee directly.

Built CONCURRENTLY, outside the migration's transaction: audit_events only grows, and a plain
CREATE INDEX would hold every write to it (every login, every payment) for the build.

Revision ID: efa93d6bbbf0
Revises: 2df1040501fa
Create Date: 2026-12-01 18:06:31.500765
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "efa93d6bbbf0"
down_revision = "2df1040501fa"
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_audit_events_transfer_payee",
            "audit_events",
            ["actor_id", sa.literal_column("(details ->> 'to_account_number')")],
            postgresql_where=sa.text("action = 'transfer'"),
            postgresql_concurrently=True,
        )
        op.create_index(
            "ix_audit_events_payout_payee",
            "audit_events",
            [
                "actor_id",
                sa.literal_column("(details ->> 'bank_code')"),
                sa.literal_column("(details ->> 'account_number')"),
            ],
            postgresql_where=sa.text("action = 'payout.request'"),
            postgresql_concurrently=True,
        )


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_audit_events_payout_payee",
            table_name="audit_events",
            postgresql_concurrently=True,
        )
        op.drop_index(
            "ix_audit_events_transfer_payee",
            table_name="audit_events",
            postgresql_concurrently=True,
        )
