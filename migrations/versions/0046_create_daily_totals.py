"""daily_totals, daily_rollups, rollup_marks: the admin dashboard's closed days stored once,
so it reads O(days × currencies) rows; indexes for the payments changed since (updated_at),
refunds by day (settled_at), payouts by created_at and open escrow by age (index-only); the
payments' status-only index dropped (its (status, id) sibling serves support's list).

Revision ID: 0046
Revises: 0037
Create Date: 2026-12-07 18:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0046"
down_revision = "0040"
branch_labels = None
depends_on = None
AMOUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "daily_totals",
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("hits", AMOUNT, nullable=False),
        sa.Column("total", AMOUNT, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.PrimaryKeyConstraint("currency", "day", "metric", "label", name="pk_daily_totals"),
    )
    op.create_table(
        "daily_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(), nullable=False),
        sa.Column("through", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_daily_rollups"),
    )
    op.create_table(
        "rollup_marks",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_rollup_marks"),
    )
    op.create_index("ix_payments_updated_at", "payments", ["updated_at"])
    # (status, id) serves every status filter; with (status) beside it PostgreSQL read every
    # payment of a status and sorted them for support's newest-first list (EXPLAIN at 100,000
    # orders: Index Scan on ix_payments_status + Sort) instead of stopping after one page.
    op.drop_index("ix_payments_status", table_name="payments")
    op.create_index("ix_refunds_settled_at", "refunds", ["settled_at"])
    op.create_index("ix_payouts_created_at", "payouts", ["created_at"])
    op.create_index("ix_escrow_holds_open", "escrow_holds",
                    ["status", "currency", "created_at", "gross_amount", "refunded_amount"])


def downgrade():
    op.drop_index("ix_escrow_holds_open", table_name="escrow_holds")
    op.drop_index("ix_payouts_created_at", table_name="payouts")
    op.drop_index("ix_refunds_settled_at", table_name="refunds")
    op.create_index("ix_payments_status", "payments", ["status"])
    op.drop_index("ix_payments_updated_at", table_name="payments")
    op.drop_table("rollup_marks")
    op.drop_table("daily_rollups")
    op.drop_table("daily_totals")
