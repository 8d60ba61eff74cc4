"""The PSP call log: one row per attempt of an outbound PSP call

- psp_calls: provider, instance, operation, the payment / refund / payout it belongs to,
  idempotency key, attempt, outcome (ok, HTTP status, timeout, connection refused, circuit
  open, rate limited …), duration, the PSP's request or object id. No bodies, no card data,
  no secrets; no foreign keys (the insert must never wait on a lock the caller holds);
- ix_psp_calls_payment_id / _payout_id: a timeline reads its calls in order;
- ix_psp_calls_at: retention (PSP_CALL_LOG_DAYS) deletes by age.

Revision ID: 0031
Revises: 0029
Create Date: 2026-12-07 15:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "psp_calls",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("instance", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("payment_id", BIGINT, nullable=True),
        sa.Column("refund_id", BIGINT, nullable=True),
        sa.Column("payout_id", BIGINT, nullable=True),
        sa.Column("idempotency_key", sa.String(100), nullable=True),
        sa.Column("attempt", sa.SmallInteger(), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("http_status", sa.SmallInteger(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("duration_ms", BIGINT, nullable=False),
        sa.Column("psp_request_id", sa.String(100), nullable=True),
        sa.Column("psp_object_id", sa.String(100), nullable=True),
    )
    op.create_index("ix_psp_calls_payment_id", "psp_calls", ["payment_id", "id"])
    op.create_index("ix_psp_calls_payout_id", "psp_calls", ["payout_id", "id"])
    op.create_index("ix_psp_calls_at", "psp_calls", ["at"])


def downgrade():
    op.drop_index("ix_psp_calls_at", table_name="psp_calls")
    op.drop_index("ix_psp_calls_payout_id", table_name="psp_calls")
    op.drop_index("ix_psp_calls_payment_id", table_name="psp_calls")
    op.drop_table("psp_calls")
