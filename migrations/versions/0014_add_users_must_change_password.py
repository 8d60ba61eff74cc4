"""users.must_change_password: a temporary password must be replaced at first use

An admin-created account gets a password someone else has seen (PCI DSS 8.3.5/8.3.6).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 17:05:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    # Existing accounts chose their own passwords (or are demo/test accounts): not flagged.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
