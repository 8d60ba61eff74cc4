"""refund_lines may give back no settlement unit when the buyer still gets money for it

A refund of a converted order by an amount in the buyer's currency can return, for one line,
less than one minor unit of the line's own currency (a yen of a dollar line): the buyer gets
paid_amount, the seller gives back nothing, the platform carries it (fx_difference). Such a
part has amount 0, so the check becomes amount >= 0 with amount > 0 OR paid_amount > 0.

Revision ID: 0034
Revises: 0029
Create Date: 2026-12-07 15:30:00.000000

"""
from alembic import op

revision = "0034"
down_revision = "0032"
branch_labels = None
depends_on = None

NAME = "ck_refund_lines_fee_within_amount"


def upgrade():
    with op.batch_alter_table("refund_lines") as batch:
        batch.drop_constraint(op.f(NAME), type_="check")
        batch.create_check_constraint(
            "fee_within_amount",
            "amount >= 0 AND fee_returned >= 0 AND fee_returned <= amount "
            "AND (amount > 0 OR paid_amount > 0)")


def downgrade():
    # Parts the platform carried have no place in the older table: they stay recorded in the
    # ledger (refund postings, fx_difference), the refund lines are dropped.
    op.execute("DELETE FROM refund_lines WHERE amount = 0")
    with op.batch_alter_table("refund_lines") as batch:
        batch.drop_constraint(op.f(NAME), type_="check")
        batch.create_check_constraint(
            "fee_within_amount", "amount > 0 AND fee_returned >= 0 AND fee_returned <= amount")
