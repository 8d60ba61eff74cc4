"""Notifications as real email: an HTML part beside the plain text, and when the next try is due
(delivery retries with exponential backoff)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 12:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("html", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("html")
