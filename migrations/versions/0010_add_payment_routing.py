"""routing: the rule and attempts behind each payment's provider

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 15:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routing_rule", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("routing_fallbacks", sa.String(length=255),
                                      nullable=False, server_default=""))
        batch_op.add_column(sa.Column("billing_country", sa.String(length=2), nullable=True))


def downgrade():
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("billing_country")
        batch_op.drop_column("routing_fallbacks")
        batch_op.drop_column("routing_rule")
