"""funding_transfers.sweep_reference: the collecting PSP's payout to the platform's bank that
reimburses the treasury for a top-up (the sandbox's po_…), which reconciliation matches to
the `treasury_sweep` posting; sweep_attempts: how many sweeps the PSP refused (a refusal is
saved with its key, so the next attempt needs a key of its own); statuses gain `topped_up`
and `failed` (no schema change).

Revision ID: 0040
Revises: 0037
Create Date: 2026-12-07 19:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0037"
branch_labels = None
depends_on = None
T = "funding_transfers"


def upgrade():
    with op.batch_alter_table(T, schema=None) as batch_op:
        batch_op.add_column(sa.Column("sweep_reference", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("sweep_attempts", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.create_unique_constraint(batch_op.f("uq_funding_transfers_sweep_reference"),
                                          ["sweep_reference"])


def downgrade():
    with op.batch_alter_table(T, schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_funding_transfers_sweep_reference"),
                                 type_="unique")
        batch_op.drop_column("sweep_attempts")
        batch_op.drop_column("sweep_reference")
