"""Support search and the payment timeline

- payments.card_exp_month / card_exp_year: the card's expiry as the PSP showed it (display
  data, like brand and last 4), so support can find a payment by brand + last 4 + expiry;
- ix_payments_card_last4, ix_payments_psp_reference: support's look-ups by card and by the
  PSP's reference (the unique constraint leads with the provider, so it cannot serve the
  reference alone);
- ix_audit_log_target: a payment's timeline reads its audit records by target;
- ix_payments_created_at, ix_escrow_holds_created_at: the admin dashboard's rates read the
  payments and sales of a date range (a range scan, not the whole history).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("card_exp_month", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("card_exp_year", sa.Integer(), nullable=True))
    op.create_index("ix_payments_card_last4", "payments", ["card_last4", "id"])
    op.create_index("ix_payments_psp_reference", "payments", ["psp_reference"])
    op.create_index("ix_audit_log_target", "audit_log", ["target", "id"])
    op.create_index("ix_payments_created_at", "payments", ["created_at"])
    op.create_index("ix_escrow_holds_created_at", "escrow_holds", ["created_at"])


def downgrade():
    op.drop_index("ix_escrow_holds_created_at", table_name="escrow_holds")
    op.drop_index("ix_payments_created_at", table_name="payments")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_payments_psp_reference", table_name="payments")
    op.drop_index("ix_payments_card_last4", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("card_exp_year")
        batch.drop_column("card_exp_month")
