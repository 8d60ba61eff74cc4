"""An account's balance from its index alone: (account, currency, amount) replaces
(account, currency), so `ledger.balance` (the seller dashboard's payout rail asks it for each
sandbox's clearing and balance accounts) sums index entries instead of visiting every leg's
row: 87 ms at 100,000 orders on SQLite before (docs/performance.md).

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-07 18:50:00.000000

"""
from alembic import op

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_ledger_entries_account_currency_amount", "ledger_entries",
                    ["account", "currency", "amount"])
    op.drop_index("ix_ledger_entries_account_currency", table_name="ledger_entries")


def downgrade():
    op.create_index("ix_ledger_entries_account_currency", "ledger_entries",
                    ["account", "currency"])
    op.drop_index("ix_ledger_entries_account_currency_amount", table_name="ledger_entries")
