"""routing: the rule and attempts behind each payment's provider

PLACEHOLDER reserved for parallel work: the owner replaces the body. Until then it changes nothing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 15:45:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
