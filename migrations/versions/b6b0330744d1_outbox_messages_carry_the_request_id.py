"""Outbox messages carry the request id of the request (or job) that wrote them.

The worker binds it around the job, so one id ties a page's log lines, the job's, the provider
call's and their Sentry events together. Nullable: rows written before this (and by code that
runs outside any request) have none.

Revision ID: b6b0330744d1
Revises: 2aa9f42b40a6
Create Date: 2026-12-01 09:28:41.947397
"""

import sqlalchemy as sa
from alembic import op

revision = "b6b0330744d1"
down_revision = "2aa9f42b40a6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("request_id")
