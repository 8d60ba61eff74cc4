"""sellers' accounts at PSPs (Stripe connected accounts)

PLACEHOLDER reserved for parallel work: the owner replaces the body. Until then it changes nothing.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 15:45:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
