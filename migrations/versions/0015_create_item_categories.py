"""item_categories: the categories an admin defines, from which sellers choose

A seller's category decides the fee rule an item's sale takes; it was free text. Existing
categories (of items and of fee rules) become rows, so nothing listed loses its category.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "item_categories",
        sa.Column("id", ID, primary_key=True),
        sa.Column("slug", sa.String(length=40), nullable=False, unique=True),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
    )
    bind = op.get_bind()
    used = {row[0] for row in bind.execute(sa.text(
        "SELECT category FROM items UNION SELECT category FROM seller_fee_rules"))
        if row[0] and row[0] != "general"}
    if used:
        op.bulk_insert(table, [{"slug": slug, "name": slug.replace("-", " ").capitalize()}
                               for slug in sorted(used)])


def downgrade():
    op.drop_table("item_categories")
