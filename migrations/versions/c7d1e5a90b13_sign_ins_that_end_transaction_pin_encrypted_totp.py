"""Doors that stay shut: API sign-ins become rows of user_sessions (kind, family_id); the
transaction PIN (a keyed HMAC with its own lockout) and one emailed code in flight on users;
totp_secret widened for its encrypted form.

Made with `flask db migrate`; reviewed by hand: existing sessions are browser sign-ins (`kind`
defaults to web); API families from before have no row and stop working (their holders sign
in again: the point of the change). TOTP secrets already stored in plain Base32 keep working
(`twofactor.unseal` reads them as is) and are encrypted by `flask users rotate-totp-key`.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c7d1e5a90b13"
down_revision = "32a90bc8db79"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD/DROP COLUMN (no batch copy of `users`, which other tables reference).
    op.add_column("users", sa.Column("pin_hash", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("pin_set_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "users", sa.Column("pin_failures", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("users", sa.Column("pin_locked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("email_code_hash", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("email_code_purpose", sa.String(length=64), nullable=True))
    op.add_column(
        "users", sa.Column("email_code_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.alter_column(
        "users",
        "totp_secret",
        existing_type=sa.String(length=64),
        type_=sa.String(length=255),
        existing_nullable=True,
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), server_default="web", nullable=False)
        )
        batch_op.add_column(sa.Column("family_id", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_user_sessions_family_id"), ["family_id"])


def downgrade():
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_user_sessions_family_id"), type_="unique")
        batch_op.drop_column("family_id")
        batch_op.drop_column("kind")
    op.alter_column(
        "users",
        "totp_secret",
        existing_type=sa.String(length=255),
        type_=sa.String(length=64),
        existing_nullable=True,
    )
    for column in (
        "email_code_expires_at",
        "email_code_purpose",
        "email_code_hash",
        "pin_locked_at",
        "pin_failures",
        "pin_set_at",
        "pin_hash",
    ):
        op.drop_column("users", column)
