"""Per-shipment capture: line_captures

One row per order line of a payment captured line by line (CAPTURE_POLICY=per_shipment):
its amount, status (awaiting_shipment, due, captured, voided), the idempotency key of its
own partial capture at the PSP, and when its uncaptured share is voided.

Revision ID: 0032
Revises: 0029
Create Date: 2026-12-07 15:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "line_captures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("payment_id", sa.Integer(), sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("order_line_id", sa.Integer(), sa.ForeignKey("order_lines.id"),
                  nullable=False),
        sa.Column("seller_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(120), nullable=False),
        sa.Column("capture_key", sa.String(120), nullable=True),
        sa.Column("final", sa.Boolean(), nullable=True),
        sa.Column("psp_fee", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("void_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("captured_at", sa.DateTime(), nullable=True),
        sa.Column("voided_at", sa.DateTime(), nullable=True),
        sa.Column("void_reason", sa.String(200), nullable=True),
        sa.CheckConstraint("amount > 0", name="line_capture_positive"),
        sa.UniqueConstraint("order_line_id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_line_captures_payment_id", "line_captures", ["payment_id"])
    op.create_index("ix_line_captures_seller_id", "line_captures", ["seller_id"])


def downgrade():
    op.drop_index("ix_line_captures_seller_id", table_name="line_captures")
    op.drop_index("ix_line_captures_payment_id", table_name="line_captures")
    op.drop_table("line_captures")
