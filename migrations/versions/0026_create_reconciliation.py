"""Settlement data imported from the PSPs and the reconciliation against the ledger

- settlement_imports: one provider's report of one UTC day, its progress and resume cursor;
- settlement_lines: each money movement the PSP reported, once per (provider, reference);
- reconciliation_differences: objects on which the report and the ledger disagree;
- reconciliation_postings: settlement and correction postings, by the report day they belong to.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "settlement_imports",
        sa.Column("id", BIG, primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("cursor", sa.String(64), nullable=True),
        sa.Column("lines_imported", BIG, nullable=False),
        sa.Column("pages", BIG, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("provider", "day"),
    )
    op.create_table(
        "settlement_lines",
        sa.Column("id", BIG, primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("payment", sa.String(64), nullable=True),
        sa.Column("gross", BIG, nullable=False),
        sa.Column("fee", BIG, nullable=False),
        sa.Column("net", BIG, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created", BIG, nullable=False),
        sa.Column("payout", sa.String(64), nullable=True),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("settlement_txn_id", BIG, sa.ForeignKey("ledger_transactions.id"),
                  nullable=True),
        sa.UniqueConstraint("provider", "reference"),
    )
    op.create_index("ix_settlement_lines_object", "settlement_lines", ["provider", "type", "source"])
    op.create_index("ix_settlement_lines_day", "settlement_lines", ["provider", "day"])
    op.create_table(
        "reconciliation_differences",
        sa.Column("id", BIG, primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("payment", sa.String(64), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("psp_net", BIG, nullable=True),
        sa.Column("psp_fee", BIG, nullable=True),
        sa.Column("ledger_net", BIG, nullable=True),
        sa.Column("ledger_fee", BIG, nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("assigned_to", BIG, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("correction_txn_id", BIG, sa.ForeignKey("ledger_transactions.id"),
                  nullable=True),
        sa.Column("resolved_by", BIG, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_recon_differences_object", "reconciliation_differences",
                    ["provider", "type", "source"])
    op.create_index("ix_recon_differences_status", "reconciliation_differences",
                    ["status", "day"])
    op.create_table(
        "reconciliation_postings",
        sa.Column("transaction_id", BIG, sa.ForeignKey("ledger_transactions.id"),
                  primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
    )
    op.create_index("ix_reconciliation_postings_day", "reconciliation_postings", ["day"])


def downgrade():
    op.drop_table("reconciliation_postings")
    op.drop_table("reconciliation_differences")
    op.drop_table("settlement_lines")
    op.drop_table("settlement_imports")
