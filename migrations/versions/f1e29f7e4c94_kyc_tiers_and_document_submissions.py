"""KYC: every customer's tier (1 to 3, existing customers start at 1) and the documents they
submit to move up, waiting for an admin's review.

Made with `flask db migrate`; the tier's CHECK constraint added by hand (autogenerate misses it).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f1e29f7e4c94"
down_revision = "a996c1d2e2d0"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "kyc_submissions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target_tier", sa.Integer(), nullable=False),
        sa.Column("id_type", sa.String(length=3), nullable=True),
        sa.Column("id_number_masked", sa.String(length=11), nullable=True),
        sa.Column("id_number_hash", sa.String(length=64), nullable=True),
        sa.Column("document_key", sa.String(length=64), nullable=False),
        sa.Column("document_type", sa.String(length=32), nullable=False),
        sa.Column("document_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("reviewer_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "id_type IS NULL OR id_type IN ('bvn', 'nin')",
            name=op.f("ck_kyc_submissions_id_type_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('identity', 'address')", name=op.f("ck_kyc_submissions_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_kyc_submissions_status_known"),
        ),
        sa.CheckConstraint(
            "target_tier BETWEEN 2 AND 3", name=op.f("ck_kyc_submissions_target_tier_known")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_kyc_submissions_reviewer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_kyc_submissions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kyc_submissions")),
        sa.UniqueConstraint("document_key", name=op.f("uq_kyc_submissions_document_key")),
    )
    op.create_index(
        op.f("ix_kyc_submissions_id_number_hash"),
        "kyc_submissions",
        ["id_number_hash"],
        unique=False,
    )
    op.create_index(
        op.f("ix_kyc_submissions_user_id"), "kyc_submissions", ["user_id"], unique=False
    )
    op.create_index(
        "uq_kyc_submissions_one_pending",
        "kyc_submissions",
        ["user_id", "kind"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )

    op.add_column("users", sa.Column("kyc_tier", sa.Integer(), server_default="1", nullable=False))
    op.create_check_constraint(op.f("ck_users_kyc_tier_known"), "users", "kyc_tier BETWEEN 1 AND 3")


def downgrade():
    op.drop_index(
        "uq_kyc_submissions_one_pending",
        table_name="kyc_submissions",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(op.f("ix_kyc_submissions_user_id"), table_name="kyc_submissions")
    op.drop_index(op.f("ix_kyc_submissions_id_number_hash"), table_name="kyc_submissions")

    op.drop_table("kyc_submissions")
    op.drop_constraint(op.f("ck_users_kyc_tier_known"), "users", type_="check")
    op.drop_column("users", "kyc_tier")
