"""Doors that stay shut: API sign-ins become rows of user_sessions (kind, family_id), the
transaction PIN (a keyed HMAC with its own lockout), and room for encrypted TOTP secrets.

Made with `flask db migrate`; reviewed by hand: existing sessions are browser sign-ins (`kind`
defaults to web); API families from before have no row and so stop working (their holders sign
in again, which is the point of the issue); TOTP secrets already stored are encrypted by the
first `flask security rotate-totp-key`-free path: `lumipay.auth.twofactor` reads a plain Base32
secret as such and rewrites it encrypted when it is next used.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c7d1e5a90b13"
down_revision = "2aa9f42b40a6"
branch_labels = None
depends_on = None


def upgrade():
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
