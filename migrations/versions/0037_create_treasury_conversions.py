"""treasury_conversions: currency the platform holds at a PSP converted there into the
currency a payout owes (a sale paid in EUR whose seller is paid in USD), with the PSP's
conversion id for reconciliation.

Revision ID: 0037
Revises: 0034
Create Date: 2026-12-07 16:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0034"
branch_labels = None
depends_on = None
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = "treasury_conversions"


def upgrade():
    op.create_table(
        T,
        sa.Column("id", ID, nullable=False),
        sa.Column("payout_id", ID, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("sold_currency", sa.String(3), nullable=False),
        sa.Column("sold_amount", ID, nullable=False),
        sa.Column("bought_currency", sa.String(3), nullable=False),
        sa.Column("bought_amount", ID, nullable=False),
        sa.Column("rate", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("psp_reference", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("sold_amount > 0 AND bought_amount > 0",
                           name=op.f("ck_treasury_conversions_conversion_positive")),
        sa.CheckConstraint("sold_currency <> bought_currency",
                           name=op.f("ck_treasury_conversions_conversion_two_currencies")),
        sa.ForeignKeyConstraint(["payout_id"], ["payouts.id"],
                                name=op.f("fk_treasury_conversions_payout_id_payouts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treasury_conversions")),
        sa.UniqueConstraint("idempotency_key",
                            name=op.f("uq_treasury_conversions_idempotency_key")),
        sa.UniqueConstraint("psp_reference", name=op.f("uq_treasury_conversions_psp_reference")),
    )
    with op.batch_alter_table(T, schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_treasury_conversions_payout_id"), ["payout_id"],
                              unique=False)


def downgrade():
    with op.batch_alter_table(T, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treasury_conversions_payout_id"))
    op.drop_table(T)
