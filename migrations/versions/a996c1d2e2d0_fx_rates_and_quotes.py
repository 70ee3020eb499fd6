"""FX: mid-rates per currency (history, exact Numeric per USD) and customers' 30-second quotes.

Made with `flask db migrate`; reviewed by hand (no data to move: both tables start empty).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a996c1d2e2d0"
down_revision = "6478e13b12fd"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "fx_rates",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("per_usd", sa.Numeric(precision=24, scale=10), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("per_usd > 0", name=op.f("ck_fx_rates_per_usd_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
    )
    op.create_index(
        "ix_fx_rates_currency_fetched_at", "fx_rates", ["currency", "fetched_at"], unique=False
    )

    op.create_table(
        "fx_quotes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("from_account_id", sa.BigInteger(), nullable=False),
        sa.Column("to_account_id", sa.BigInteger(), nullable=False),
        sa.Column("from_currency", sa.String(length=3), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("mid_rate", sa.Numeric(precision=30, scale=12), nullable=False),
        sa.Column("rate", sa.Numeric(precision=30, scale=12), nullable=False),
        sa.Column("debit_amount", sa.BigInteger(), nullable=False),
        sa.Column("credit_amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'converted')", name=op.f("ck_fx_quotes_status_known")
        ),
        sa.CheckConstraint("credit_amount > 0", name=op.f("ck_fx_quotes_credit_positive")),
        sa.CheckConstraint("debit_amount > 0", name=op.f("ck_fx_quotes_debit_positive")),
        sa.CheckConstraint("fee_amount >= 0", name=op.f("ck_fx_quotes_fee_not_negative")),
        sa.CheckConstraint(
            "from_currency <> to_currency", name=op.f("ck_fx_quotes_currencies_differ")
        ),
        sa.ForeignKeyConstraint(
            ["from_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_fx_quotes_from_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["to_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_fx_quotes_to_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_fx_quotes_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_fx_quotes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_quotes")),
        sa.UniqueConstraint("reference", name=op.f("uq_fx_quotes_reference")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_fx_quotes_transaction_id")),
    )
    op.create_index(op.f("ix_fx_quotes_user_id"), "fx_quotes", ["user_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_fx_quotes_user_id"), table_name="fx_quotes")

    op.drop_table("fx_quotes")
    op.drop_index("ix_fx_rates_currency_fetched_at", table_name="fx_rates")

    op.drop_table("fx_rates")
