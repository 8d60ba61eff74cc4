"""clawbacks reversed from sellers' Stripe transfers

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 16:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "transfer_reversals",
        sa.Column("id", ID, nullable=False),
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("source_transaction_id", ID, nullable=False),
        sa.Column("payout_id", ID, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("psp_reference", sa.String(length=64), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_transfer_reversals_amount_positive")),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"],
                                name=op.f("fk_transfer_reversals_seller_id_users")),
        sa.ForeignKeyConstraint(["source_transaction_id"], ["ledger_transactions.id"],
                                name=op.f("fk_transfer_reversals_source_transaction_id_ledger_transactions")),
        sa.ForeignKeyConstraint(["payout_id"], ["payouts.id"],
                                name=op.f("fk_transfer_reversals_payout_id_payouts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_reversals")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_transfer_reversals_idempotency_key")),
        sa.UniqueConstraint("psp_reference", name=op.f("uq_transfer_reversals_psp_reference")),
        sa.UniqueConstraint("source_transaction_id", "seller_id", "payout_id",
                            name=op.f("uq_transfer_reversals_source_transaction_id")),
    )
    with op.batch_alter_table("transfer_reversals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transfer_reversals_seller_id"), ["seller_id"])
        batch_op.create_index(batch_op.f("ix_transfer_reversals_source_transaction_id"),
                              ["source_transaction_id"])
        batch_op.create_index(batch_op.f("ix_transfer_reversals_payout_id"), ["payout_id"])
        batch_op.create_index(batch_op.f("ix_transfer_reversals_status"), ["status"])


def downgrade():
    op.drop_table("transfer_reversals")
