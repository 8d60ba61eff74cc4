"""refunds (and escrow holds' refunded amounts)

PLACEHOLDER reserved for parallel work: the owner replaces the body. Until then it changes nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 15:45:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
