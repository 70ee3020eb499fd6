"""Bank: reserved accounts per customer and provider, top-ups and payouts.

Made with `flask db migrate`; reviewed by hand (new tables only, nothing to move). A top-up is
credited once per provider transaction reference: (provider, provider_reference) is unique.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b10a63d3a2a0"
down_revision = "2d81030a052f"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "bank_reserved_accounts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("account_reference", sa.String(length=40), nullable=False),
        sa.Column("account_number", sa.String(length=10), nullable=False),
        sa.Column("account_name", sa.String(length=120), nullable=False),
        sa.Column("bank_name", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bank_reserved_accounts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_reserved_accounts")),
        sa.UniqueConstraint(
            "account_reference", name=op.f("uq_bank_reserved_accounts_account_reference")
        ),
        sa.UniqueConstraint(
            "provider", "account_number", name="uq_bank_reserved_accounts_provider_number"
        ),
        sa.UniqueConstraint("user_id", "provider", name="uq_bank_reserved_accounts_user_provider"),
    )
    op.create_table(
        "bank_topups",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "reserved_account_id",
            sa.BigInteger(),
            nullable=True,
        ),
        sa.Column("checkout_url", sa.String(length=300), nullable=True),
        sa.Column("provider_reference", sa.String(length=64), nullable=True),
        sa.Column("amount_paid", sa.BigInteger(), nullable=True),
        sa.Column("currency_paid", sa.String(length=3), nullable=True),
        sa.Column("payer", sa.String(length=120), nullable=True),
        sa.Column("flagged_reason", sa.String(length=200), nullable=True),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credited_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "method IN ('reserved_account', 'checkout')", name=op.f("ck_bank_topups_method_known")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'credited', 'uncredited')",
            name=op.f("ck_bank_topups_status_known"),
        ),
        sa.CheckConstraint(
            "amount IS NULL OR amount > 0", name=op.f("ck_bank_topups_amount_positive")
        ),
        sa.CheckConstraint(
            "amount_paid IS NULL OR amount_paid > 0",
            name=op.f("ck_bank_topups_amount_paid_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_bank_topups_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["reserved_account_id"],
            ["bank_reserved_accounts.id"],
            name=op.f("fk_bank_topups_reserved_account_id_bank_reserved_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_bank_topups_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bank_topups_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_topups")),
        sa.UniqueConstraint(
            "provider", "provider_reference", name="uq_bank_topups_provider_reference"
        ),
        sa.UniqueConstraint("reference", name=op.f("uq_bank_topups_reference")),
    )
    op.create_index("ix_bank_topups_user_id_id", "bank_topups", ["user_id", "id"], unique=False)

    op.create_table(
        "bank_payouts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("bank_code", sa.String(length=8), nullable=False),
        sa.Column("bank_name", sa.String(length=60), nullable=False),
        sa.Column("account_number", sa.String(length=10), nullable=False),
        sa.Column("account_name", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("narration", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("hold_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("provider_reference", sa.String(length=64), nullable=True),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("reviewed_by", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.String(length=200), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requery_count", sa.Integer(), nullable=False),
        sa.Column("next_requery_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('awaiting_approval', 'processing', 'succeeded', 'failed', 'rejected')",
            name=op.f("ck_bank_payouts_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_bank_payouts_amount_positive")),
        sa.CheckConstraint("fee >= 0", name=op.f("ck_bank_payouts_fee_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_bank_payouts_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["ledger_holds.id"], name=op.f("fk_bank_payouts_hold_id_ledger_holds")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_bank_payouts_reviewed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_bank_payouts_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bank_payouts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_payouts")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_bank_payouts_hold_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_bank_payouts_reference")),
    )
    op.create_index(
        "ix_bank_payouts_status_next_requery_at",
        "bank_payouts",
        ["status", "next_requery_at"],
        unique=False,
    )
    op.create_index("ix_bank_payouts_user_id_id", "bank_payouts", ["user_id", "id"], unique=False)


def downgrade():
    op.drop_index("ix_bank_payouts_user_id_id", table_name="bank_payouts")
    op.drop_index("ix_bank_payouts_status_next_requery_at", table_name="bank_payouts")

    op.drop_table("bank_payouts")
    op.drop_index("ix_bank_topups_user_id_id", table_name="bank_topups")

    op.drop_table("bank_topups")
    op.drop_table("bank_reserved_accounts")
