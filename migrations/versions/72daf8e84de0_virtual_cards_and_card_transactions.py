"""Cards: virtual cards (provider token, last4 and expiry only) and their transactions
(authorisations with their decision and hold, refunds).

Made with `flask db migrate`; reviewed by hand (both tables start empty).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "72daf8e84de0"
down_revision = "f1e29f7e4c94"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cards",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("single_use", sa.Boolean(), nullable=False),
        sa.Column("per_transaction_limit", sa.BigInteger(), nullable=False),
        sa.Column("monthly_limit", sa.BigInteger(), nullable=False),
        sa.Column("allowed_groups", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_token", sa.String(length=64), nullable=True),
        sa.Column("brand", sa.String(length=16), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("exp_month", sa.Integer(), nullable=True),
        sa.Column("exp_year", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("currency IN ('NGN', 'USD')", name=op.f("ck_cards_currency_known")),
        sa.CheckConstraint(
            "status IN ('issuing', 'active', 'frozen', 'terminated', 'failed')",
            name=op.f("ck_cards_status_known"),
        ),
        sa.CheckConstraint("monthly_limit > 0", name=op.f("ck_cards_monthly_limit_positive")),
        sa.CheckConstraint(
            "per_transaction_limit > 0", name=op.f("ck_cards_per_transaction_limit_positive")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_accounts.id"], name=op.f("fk_cards_account_id_ledger_accounts")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_cards_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("provider_token", name=op.f("uq_cards_provider_token")),
        sa.UniqueConstraint("reference", name=op.f("uq_cards_reference")),
    )
    op.create_index("ix_cards_user_id_id", "cards", ["user_id", "id"], unique=False)

    op.create_table(
        "card_transactions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("provider_reference", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("card_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("merchant_name", sa.String(length=80), nullable=False),
        sa.Column("merchant_mcc", sa.String(length=4), nullable=False),
        sa.Column("decline_code", sa.String(length=40), nullable=True),
        sa.Column("decline_reason", sa.String(length=200), nullable=True),
        sa.Column("hold_id", sa.BigInteger(), nullable=True),
        sa.Column("captured_amount", sa.BigInteger(), nullable=True),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('authorisation', 'refund')", name=op.f("ck_card_transactions_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('approved', 'declined', 'captured', 'reversed', 'refunded')",
            name=op.f("ck_card_transactions_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_card_transactions_amount_positive")),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_card_transactions_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["ledger_holds.id"], name=op.f("fk_card_transactions_hold_id_ledger_holds")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["card_transactions.id"],
            name=op.f("fk_card_transactions_parent_id_card_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_card_transactions_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_card_transactions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_transactions")),
        sa.UniqueConstraint("event_id", name=op.f("uq_card_transactions_event_id")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_card_transactions_hold_id")),
        sa.UniqueConstraint(
            "provider_reference", name=op.f("uq_card_transactions_provider_reference")
        ),
    )
    op.create_index(
        "ix_card_transactions_card_id_created_at",
        "card_transactions",
        ["card_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_card_transactions_user_id"), "card_transactions", ["user_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_card_transactions_user_id"), table_name="card_transactions")
    op.drop_index("ix_card_transactions_card_id_created_at", table_name="card_transactions")

    op.drop_table("card_transactions")
    op.drop_index("ix_cards_user_id_id", table_name="cards")

    op.drop_table("cards")
