"""Indexes that keep the busy pages flat as the platform grows (bench/scale.py)

- ledger_entries (owner, kind, currency, amount): a seller's balances read only that seller's
  legs (covering: the sums never touch the table); without it every dashboard view scanned
  the whole ledger.
- payments (status, id) and (needs_review, id): support's "payments by status" and "needs
  review" lists read the newest 100 of their kind straight off the index, in id order.
- audit_log (action varchar_pattern_ops), PostgreSQL only: the audit search's action prefix
  (LIKE 'auth.%') can use an index whatever the database's collation.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_ledger_entries_owner_kind", "ledger_entries",
                    ["owner", "kind", "currency", "amount"])
    op.create_index("ix_payments_status_id", "payments", ["status", "id"])
    op.create_index("ix_payments_needs_review_id", "payments", ["needs_review", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_audit_log_action_pattern ON audit_log "
                   "(action varchar_pattern_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_audit_log_action_pattern")
    op.drop_index("ix_payments_needs_review_id", table_name="payments")
    op.drop_index("ix_payments_status_id", table_name="payments")
    op.drop_index("ix_ledger_entries_owner_kind", table_name="ledger_entries")
