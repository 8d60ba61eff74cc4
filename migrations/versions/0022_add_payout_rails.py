"""Payouts on real rails: which rail pays a seller, the rail's own payout, treasury funding

- payout_settings.provider: the payout rail an admin chose for the seller (NULL: the default);
- payouts.rail_reference: the rail's second object (Stripe Connect: the connected account's
  payout to the bank, po_…, after our transfer tr_… in psp_reference);
- funding_transfers: money moved from the PSP that collected it to the PSP that pays it out,
  through the platform's treasury, with the receiving PSP's reference for reconciliation.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 12:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("payout_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider", sa.String(32), nullable=True))
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rail_reference", sa.String(64), nullable=True))
    op.create_table(
        "funding_transfers",
        sa.Column("id", ID, nullable=False),
        sa.Column("payout_id", ID, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", ID, nullable=False),
        sa.Column("from_provider", sa.String(32), nullable=False),
        sa.Column("to_provider", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("psp_reference", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_funding_transfers_funding_amount_positive")),
        sa.ForeignKeyConstraint(["payout_id"], ["payouts.id"],
                                name=op.f("fk_funding_transfers_payout_id_payouts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_transfers")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_funding_transfers_idempotency_key")),
        sa.UniqueConstraint("psp_reference", name=op.f("uq_funding_transfers_psp_reference")),
    )
    with op.batch_alter_table("funding_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_funding_transfers_payout_id"), ["payout_id"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("funding_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_transfers_payout_id"))
    op.drop_table("funding_transfers")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_column("rail_reference")
    with op.batch_alter_table("payout_settings", schema=None) as batch_op:
        batch_op.drop_column("provider")
