"""index_settlement_lines_by_source: set-based matching finds a touched object's lines of
other days by their source, and a give-back refund's line by its payment, through an index
instead of scanning every line the provider ever reported; settlement_lines.account keeps the
PSP account a line was booked to (Braintree's merchant account), which its settlement batch
summary totals by.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 15:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("settlement_lines") as batch:
        batch.add_column(sa.Column("account", sa.String(length=64), nullable=True))
    op.create_index("ix_settlement_lines_source", "settlement_lines", ["provider", "source"])
    op.create_index("ix_settlement_lines_payment", "settlement_lines", ["provider", "payment"])


def downgrade():
    op.drop_index("ix_settlement_lines_payment", table_name="settlement_lines")
    op.drop_index("ix_settlement_lines_source", table_name="settlement_lines")
    with op.batch_alter_table("settlement_lines") as batch:
        batch.drop_column("account")
