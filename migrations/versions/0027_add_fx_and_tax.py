"""Currency conversion and taxes: reference rates, the tax rates table, and what an order
freezes when it is placed

- fx_rates: ECB reference rates per euro, replaced by the refresh job;
- tax_rates: basis points per (country, tax category), maintained by the admin;
- users.country: a buyer's billing country (their orders' tax);
- items.tax_category: standard, reduced, digital or exempt;
- orders: the buyer's country and VAT number, reverse charge, the tax in all, the rates' date
  and the FX margin; order_lines: the line in the buyer's currency, its margin, the rates used,
  its tax category, rate and tax.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 12:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "fx_rates",
        sa.Column("currency", sa.String(length=3), primary_key=True),
        sa.Column("per_eur", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "tax_rates",
        sa.Column("id", ID, primary_key=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("bps", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("country", "category", name="one_rate_per_category"),
        sa.CheckConstraint("bps >= 0 AND bps <= 10000", name="bps_in_range"),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("country", sa.String(length=2), nullable=True))
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("tax_category", sa.String(length=16), nullable=False,
                                   server_default="standard"))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("buyer_country", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("vat_number", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("reverse_charge", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("tax_amount", sa.BigInteger(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("fx_rates_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("fx_margin_bps", sa.Integer(), nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("order_lines") as batch:
        batch.add_column(sa.Column("presentment_amount", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("fx_margin", sa.BigInteger(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("fx_mid_rate", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("fx_rate", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("tax_category", sa.String(length=16), nullable=False,
                                   server_default="standard"))
        batch.add_column(sa.Column("tax_bps", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("tax_amount", sa.BigInteger(), nullable=False,
                                   server_default="0"))


def downgrade():
    with op.batch_alter_table("order_lines") as batch:
        for name in ("tax_amount", "tax_bps", "tax_category", "fx_rate", "fx_mid_rate",
                     "fx_margin", "presentment_amount"):
            batch.drop_column(name)
    with op.batch_alter_table("orders") as batch:
        for name in ("fx_margin_bps", "fx_rates_date", "tax_amount", "reverse_charge",
                     "vat_number", "buyer_country"):
            batch.drop_column(name)
    with op.batch_alter_table("items") as batch:
        batch.drop_column("tax_category")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("country")
    op.drop_table("tax_rates")
    op.drop_table("fx_rates")
