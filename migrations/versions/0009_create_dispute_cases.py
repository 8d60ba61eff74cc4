"""dispute cases: buyer claims and PSP chargebacks, their timeline and evidence files

PLACEHOLDER reserved for parallel work: the owner replaces the body. Until then it changes nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 15:45:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
