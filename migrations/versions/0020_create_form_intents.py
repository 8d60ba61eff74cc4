"""form_intents: the one-time key each money-moving form carries, claimed by its first
submission, so that the same form posted twice (a double click, a resend after a timeout)
moves money once

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 12:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "form_intents",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("purpose", sa.String(120), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_form_intents_created_at", "form_intents", ["created_at"])


def downgrade():
    op.drop_index("ix_form_intents_created_at", table_name="form_intents")
    op.drop_table("form_intents")
