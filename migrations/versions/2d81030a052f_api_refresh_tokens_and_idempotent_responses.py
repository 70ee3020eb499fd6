"""JSON API: refresh tokens (hashed, in families for reuse detection) and the first response
of an idempotent API request (status and body) kept beside its key.

Made with `flask db migrate`; reviewed by hand (new table and two nullable columns: no data to
move; the pages' keys keep NULL responses).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "2d81030a052f"
down_revision = "72daf8e84de0"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_refresh_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("family_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_refresh_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_refresh_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_api_refresh_tokens_family_id"), "api_refresh_tokens", ["family_id"], unique=False
    )
    op.create_index(
        op.f("ix_api_refresh_tokens_user_id"), "api_refresh_tokens", ["user_id"], unique=False
    )

    op.add_column("idempotency_keys", sa.Column("response_status", sa.Integer(), nullable=True))
    op.add_column("idempotency_keys", sa.Column("response_body", sa.JSON(), nullable=True))


def downgrade():
    op.drop_column("idempotency_keys", "response_body")
    op.drop_column("idempotency_keys", "response_status")

    op.drop_index(op.f("ix_api_refresh_tokens_user_id"), table_name="api_refresh_tokens")
    op.drop_index(op.f("ix_api_refresh_tokens_family_id"), table_name="api_refresh_tokens")

    op.drop_table("api_refresh_tokens")
