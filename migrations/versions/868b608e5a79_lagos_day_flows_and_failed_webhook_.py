"""Daily flows by the Lagos day, and webhook events that failed with a reason.

Made with `flask db migrate` (the `failure` column), then corrected by hand: "daily" is now the
Lagos calendar day (Africa/Lagos) everywhere, so `ledger_daily_flows` is rebuilt from the
entries already posted, bucketed by the Lagos day of each entry's time, and `flask ledger
verify` (which checks the flows per wallet, Lagos day and kind) holds on a database that had
data before. The downgrade buckets them by the UTC day again.

Revision ID: 868b608e5a79
Revises: b19f7a1d32c9
Create Date: 2026-12-01 09:29:53.564051
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "868b608e5a79"
down_revision = "b19f7a1d32c9"
branch_labels = None
depends_on = None

REBUCKET = """
DELETE FROM ledger_daily_flows;
INSERT INTO ledger_daily_flows (account_id, day, kind, money_in, money_out, entries)
SELECT e.account_id, (e.created_at AT TIME ZONE '{zone}')::date, t.kind,
       SUM(CASE WHEN e.amount > 0 THEN e.amount ELSE 0 END),
       SUM(CASE WHEN e.amount < 0 THEN -e.amount ELSE 0 END),
       COUNT(*)
FROM ledger_entries e
JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'wallet'
JOIN ledger_transactions t ON t.id = e.transaction_id
GROUP BY e.account_id, (e.created_at AT TIME ZONE '{zone}')::date, t.kind
"""


def upgrade():
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure", sa.String(length=300), nullable=True))
    op.execute(REBUCKET.format(zone="Africa/Lagos"))


def downgrade():
    op.execute(REBUCKET.format(zone="UTC"))
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_column("failure")
