"""create_seller_statements: signed seller statements per payout and per month, each format's
exact bytes with its SHA-256 and signed manifest

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 12:50:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "seller_statements",
        sa.Column("id", BIG, nullable=False),
        sa.Column("seller_id", BIG, nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payout_id", BIG, nullable=True),
        sa.Column("opening", BIG, nullable=False),
        sa.Column("closing", BIG, nullable=False),
        sa.Column("paid_out", BIG, nullable=False),
        sa.Column("audit_id", BIG, nullable=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"],
                                name=op.f("fk_seller_statements_seller_id_users")),
        sa.ForeignKeyConstraint(["payout_id"], ["payouts.id"],
                                name=op.f("fk_seller_statements_payout_id_payouts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_statements")),
        sa.UniqueConstraint("seller_id", "period", "currency",
                            name="one_statement_per_period"),
    )
    with op.batch_alter_table("seller_statements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seller_statements_seller_id"), ["seller_id"])
    op.create_table(
        "statement_documents",
        sa.Column("id", BIG, nullable=False),
        sa.Column("statement_id", BIG, nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("filename", sa.String(120), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["statement_id"], ["seller_statements.id"],
                                name=op.f("fk_statement_documents_statement_id_seller_statements")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_documents")),
        sa.UniqueConstraint("statement_id", "format",
                            name="one_document_per_format"),
    )
    with op.batch_alter_table("statement_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statement_documents_statement_id"),
                              ["statement_id"])


def downgrade():
    op.drop_table("statement_documents")
    op.drop_table("seller_statements")
