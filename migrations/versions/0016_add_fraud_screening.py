"""payments: fraud decision, score, reasons, signals for linking and review; fraud list entries

Every payment attempt is screened before the PSP call and on its verdict (docs/fraud.md): what
was decided and why is kept on the payment; support's block/allow/watch lists get a table.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

COLUMNS = (
    ("fraud_decision", sa.String(16)), ("fraud_score", sa.Integer()),
    ("fraud_reasons", sa.Text()), ("fraud_rules", sa.Text()),
    ("client_ip", sa.String(45)), ("device_id", sa.String(64)),
    ("card_fingerprint", sa.String(64)), ("card_country", sa.String(2)),
    ("psp_risk_level", sa.String(16)), ("review_status", sa.String(16)),
    ("reviewed_by", sa.String(254)), ("reviewed_at", sa.DateTime()),
    ("authorized_at", sa.DateTime()),
)


def upgrade():
    with op.batch_alter_table("payments", schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
        batch_op.create_index("ix_payments_review_status", ["review_status"])
        batch_op.create_index("ix_payments_card_fingerprint", ["card_fingerprint"])
        batch_op.create_index("ix_payments_device_id", ["device_id"])
        batch_op.create_index("ix_payments_client_ip", ["client_ip"])
    op.create_table(
        "fraud_list_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("list", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(254), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False, server_default=""),
        sa.Column("added_by", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("list", "kind", "value", name="one_fraud_list_entry"),
    )


def downgrade():
    op.drop_table("fraud_list_entries")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        for index in ("client_ip", "device_id", "card_fingerprint", "review_status"):
            batch_op.drop_index(f"ix_payments_{index}")
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
