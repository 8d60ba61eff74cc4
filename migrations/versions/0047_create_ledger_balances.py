"""ledger_balances: each account's running balance per currency, added to by every posting in
its transaction, so `ledger.balance` reads one row instead of summing every leg the account
ever had (the seller dashboard's payout rail asks it for each sandbox's clearing account: 87
ms at 100,000 orders on SQLite, growing with every capture). Filled here from the legs.

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-07 19:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None
AMOUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "ledger_balances",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance", AMOUNT, nullable=False),
        sa.PrimaryKeyConstraint("account", "currency", name="pk_ledger_balances"),
    )
    op.execute("INSERT INTO ledger_balances (account, currency, balance) "
               "SELECT account, currency, SUM(amount) FROM ledger_entries "
               "GROUP BY account, currency")


def downgrade():
    op.drop_table("ledger_balances")
