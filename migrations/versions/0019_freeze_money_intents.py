"""Money intents remember what they promised: payouts freeze their destination, refunds and
payouts record that they were sent and can be put in front of support, payouts can come back

- payouts.bank_account_id / destination_ref: the destination chosen when the payout was booked
  (a retry with the same key must carry the same parameters, whatever the seller changed since);
- payouts.needs_review / review_reason: an amount mismatch or an idempotency error is a person's
  job, never "failed";
- refunds.sent_at: the first time the refund's key went to the PSP (from then on the key may
  have executed, so no later error may call it failed without asking the PSP);
- refunds.needs_review / review_reason: a mismatch flagged once, and the sweep stops asking;
- refunds.checked_at / payouts.checked_at: a settled refund or paid payout can still fail
  days later and its webhook can be lost, so the sweeps re-check them daily for 30 days;
- payments.give_back / duplicate_of: money the PSP took on a payment that must not keep it (a
  second payment of a paid order, a late authorization of a session we had cancelled).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 08:50:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bank_account_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("destination_ref", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("needs_review", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("review_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("returned_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("checked_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checked_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("needs_review", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("review_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("give_back", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("duplicate_of")
        batch_op.drop_column("give_back")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        for name in ("checked_at", "review_reason", "needs_review", "sent_at"):
            batch_op.drop_column(name)
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        for name in ("checked_at", "returned_at", "review_reason", "needs_review",
                     "destination_ref",
                     "bank_account_id"):
            batch_op.drop_column(name)
