"""refund_lines remember what a converted or taxed line gives back in the buyer's currency

A refund of an order paid in another currency converts back at the order's frozen rate: each
line's part keeps its settlement amount (amount, fee_returned, as before) and adds what the
buyer gets for it (paid_amount, of which margin and tax) and what that cost the platform
against the day's reference rate (fx_difference).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("refund_lines") as batch:
        batch.add_column(sa.Column("paid_amount", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("paid_margin", sa.BigInteger(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("paid_tax", sa.BigInteger(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("fx_difference", sa.BigInteger(), nullable=False,
                                   server_default="0"))


def downgrade():
    with op.batch_alter_table("refund_lines") as batch:
        for name in ("fx_difference", "paid_tax", "paid_margin", "paid_amount"):
            batch.drop_column(name)
