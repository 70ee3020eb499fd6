"""Ledger daily flows: money in and out per wallet, UTC day and transaction kind.

Made with `flask db migrate`, then corrected by hand: the table is filled from the entries
already posted, so `flask ledger verify` holds on a database that had data before.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "6478e13b12fd"
down_revision = "5aaec439987d"
branch_labels = None
depends_on = None

BACKFILL = """
INSERT INTO ledger_daily_flows (account_id, day, kind, money_in, money_out, entries)
SELECT e.account_id, {day}, t.kind,
       SUM(CASE WHEN e.amount > 0 THEN e.amount ELSE 0 END),
       SUM(CASE WHEN e.amount < 0 THEN -e.amount ELSE 0 END),
       COUNT(*)
FROM ledger_entries e
JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'wallet'
JOIN ledger_transactions t ON t.id = e.transaction_id
GROUP BY e.account_id, {day}, t.kind
"""


def upgrade():
    op.create_table(
        "ledger_daily_flows",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("money_in", sa.BigInteger(), nullable=False),
        sa.Column("money_out", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_daily_flows_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "day", "kind", name=op.f("pk_ledger_daily_flows")),
    )
    op.execute(BACKFILL.format(day="(e.created_at AT TIME ZONE 'UTC')::date"))


def downgrade():
    op.drop_table("ledger_daily_flows")
