"""Bills and the asynchronous backbone: the outbox, the webhook inbox, notifications, bill payments.

Made with `flask db migrate` against a PostgreSQL database upgraded to the spine, then tidied by
hand. `outbox_messages` holds jobs written in the same transaction as the change they follow;
`webhook_events` stores every verified delivery raw, unique per (channel, event id);
`bill_payments` points at the hold that reserves its money and, once settled, the capture.

Revision ID: 5aaec439987d
Revises: e23be0848d4d
Create Date: 2026-11-26 19:33:59.131614

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5aaec439987d"
down_revision = "e23be0848d4d"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("func", sa.String(length=200), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("delay_seconds", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    op.create_index(
        "ix_outbox_messages_unpushed", "outbox_messages", ["pushed_at", "id"], unique=False
    )

    op.create_table(
        "webhook_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("raw_body", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("channel", "event_id", name="uq_webhook_events_channel_event_id"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("link", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_user_id_id", "notifications", ["user_id", "id"], unique=False)

    op.create_table(
        "bill_payments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("service_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=20), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("variation_code", sa.String(length=60), nullable=True),
        sa.Column("description", sa.String(length=120), nullable=False),
        sa.Column("customer_name", sa.String(length=120), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hold_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("provider_reference", sa.String(length=64), nullable=True),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requery_count", sa.Integer(), nullable=False),
        sa.Column("next_requery_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "category IN ('airtime', 'data', 'electricity')",
            name=op.f("ck_bill_payments_category_known"),
        ),
        sa.CheckConstraint(
            "status IN ('processing', 'succeeded', 'failed')",
            name=op.f("ck_bill_payments_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_bill_payments_amount_positive")),
        sa.CheckConstraint("fee >= 0", name=op.f("ck_bill_payments_fee_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_bill_payments_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["ledger_holds.id"], name=op.f("fk_bill_payments_hold_id_ledger_holds")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_bill_payments_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bill_payments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_payments")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_bill_payments_hold_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_bill_payments_reference")),
        sa.UniqueConstraint("request_id", name=op.f("uq_bill_payments_request_id")),
    )
    op.create_index(
        "ix_bill_payments_status_next_requery_at",
        "bill_payments",
        ["status", "next_requery_at"],
        unique=False,
    )
    op.create_index("ix_bill_payments_user_id_id", "bill_payments", ["user_id", "id"], unique=False)


def downgrade():
    op.drop_index("ix_bill_payments_user_id_id", table_name="bill_payments")
    op.drop_index("ix_bill_payments_status_next_requery_at", table_name="bill_payments")

    op.drop_table("bill_payments")
    op.drop_index("ix_notifications_user_id_id", table_name="notifications")

    op.drop_table("notifications")
    op.drop_table("webhook_events")
    op.drop_index("ix_outbox_messages_unpushed", table_name="outbox_messages")

    op.drop_table("outbox_messages")
