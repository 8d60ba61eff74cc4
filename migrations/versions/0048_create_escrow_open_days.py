"""escrow_open_days: open escrow (held or on hold) per currency and UTC capture day, kept in
the transaction of every change to a hold (services/money/escrow_open), so the admin
dashboard's "escrow held by age" reads O(days) rows instead of every open line (≈ 60,000 at a
million orders). Filled here from the open holds. The covering index that served the old
pass over the open lines (ix_escrow_holds_open, 0046) has no reader left and is dropped: every
capture, release and refund wrote it.

Revision ID: 0048
Revises: 0047
Create Date: 2026-12-07 21:50:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0048"
down_revision = "0047"
branch_labels = None
depends_on = None
AMOUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "escrow_open_days",
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.PrimaryKeyConstraint("currency", "day", name="pk_escrow_open_days"),
    )
    # date(created_at): a date on PostgreSQL, 'YYYY-MM-DD' text on SQLite (how SQLAlchemy
    # stores a Date there).
    op.execute("INSERT INTO escrow_open_days (currency, day, lines, amount) "
               "SELECT currency, date(created_at), COUNT(*), SUM(gross_amount - refunded_amount) "
               "FROM escrow_holds WHERE status IN ('held', 'on_hold') "
               "GROUP BY currency, date(created_at)")
    op.drop_index("ix_escrow_holds_open", table_name="escrow_holds")


def downgrade():
    op.create_index("ix_escrow_holds_open", "escrow_holds",
                    ["status", "currency", "created_at", "gross_amount", "refunded_amount"])
    op.drop_table("escrow_open_days")
