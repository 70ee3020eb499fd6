"""Public ids: a UUID per user, wallet, transfer, bill, card, top-up, payout and quote.

The API and the pages name these rows by `public_id` only; the sequential keys stay inside the
database. Adding the column with the volatile default `gen_random_uuid()` (PostgreSQL 13+
core) gives every existing row its own UUID as the table is rewritten: that is the back-fill.

Revision ID: b19f7a1d32c9
Revises: b6b0330744d1
Create Date: 2026-12-01 09:26:41.105432

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b19f7a1d32c9"
down_revision = "b6b0330744d1"
branch_labels = None
depends_on = None

TABLES = (
    "users",
    "ledger_accounts",
    "transfers",
    "bill_payments",
    "cards",
    "bank_topups",
    "bank_payouts",
    "fx_quotes",
)


def upgrade():
    for table in TABLES:
        op.add_column(
            table,
            sa.Column(
                "public_id",
                sa.Uuid(),
                server_default=sa.text("gen_random_uuid()"),
                nullable=False,
            ),
        )
        op.create_unique_constraint(f"uq_{table}_public_id", table, ["public_id"])


def downgrade():
    for table in reversed(TABLES):
        op.drop_constraint(f"uq_{table}_public_id", table, type_="unique")
        op.drop_column(table, "public_id")
