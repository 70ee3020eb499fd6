"""Beneficiaries: recipients a customer saved from a transfer receipt, to pick on the transfer form.

Made with `flask db migrate` on a scratch PostgreSQL database, then tidied by hand: one table,
one recipient per (owner, account number); that unique index also serves lookups by owner.

Revision ID: e23be0848d4d
Revises: 829b14d1929a
Create Date: 2026-11-26 19:17:19.883921

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e23be0848d4d"
down_revision = "829b14d1929a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "beneficiaries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("account_number", sa.String(length=10), nullable=False),
        sa.Column("nickname", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_beneficiaries_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_beneficiaries")),
        sa.UniqueConstraint("owner_id", "account_number", name="uq_beneficiaries_owner_account"),
    )


def downgrade():
    op.drop_table("beneficiaries")
