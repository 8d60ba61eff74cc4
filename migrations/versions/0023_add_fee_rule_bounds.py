"""Fees as configuration: rules with a minimum and a maximum, for one seller or every seller,
and the rule in force copied onto each order line when the order is placed

- seller_fee_rules.minimum_amount / maximum_amount / updated_at; seller_id may be NULL (a
  category's rule for every seller);
- order_lines.fee_bps / fee_fixed / fee_minimum / fee_maximum / fee_source: capture charges
  these, so editing a rule or an item's category after the order changes nothing for it.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 12:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("seller_fee_rules", schema=None) as batch_op:
        batch_op.alter_column("seller_id", existing_type=BIG, nullable=True)
        batch_op.add_column(sa.Column("minimum_amount", BIG, nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("maximum_amount", BIG, nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_seller_fee_rules_fee_rule_sane"),
            "bps >= 0 AND bps <= 10000 AND fixed_amount >= 0 AND minimum_amount >= 0")
    # NULLs are distinct in the (seller_id, category) constraint: one rule per scope, also for
    # the rules of every seller.
    op.create_index("uq_seller_fee_rules_scope", "seller_fee_rules",
                    [sa.text("coalesce(seller_id, 0)"), sa.text("coalesce(category, '')")],
                    unique=True)
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        for name in ("fee_bps", "fee_fixed", "fee_minimum", "fee_maximum"):
            batch_op.add_column(sa.Column(name, BIG, nullable=True))
        batch_op.add_column(sa.Column("fee_source", sa.String(60), nullable=True))


def downgrade():
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        for name in ("fee_source", "fee_maximum", "fee_minimum", "fee_fixed", "fee_bps"):
            batch_op.drop_column(name)
    op.drop_index("uq_seller_fee_rules_scope", table_name="seller_fee_rules")
    # Rules for every seller have no place in the older table (seller_id was required).
    op.execute("DELETE FROM seller_fee_rules WHERE seller_id IS NULL")
    with op.batch_alter_table("seller_fee_rules", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_seller_fee_rules_fee_rule_sane"), type_="check")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("maximum_amount")
        batch_op.drop_column("minimum_amount")
        batch_op.alter_column("seller_id", existing_type=BIG, nullable=False)
