"""Fulfilment (issue 17): shipping addresses, shipments, and digital goods

- addresses: a buyer's saved addresses (removed ones keep their row);
- order_addresses: the address an order ships to, copied from a saved one when chosen;
- shipments: a physical order line's carrier, tracking, shipped and delivered times;
- items.fulfilment / credit_units: physical, or a digital kind delivered at capture;
- licence_keys (sealed), digital_files, digital_deliveries: what a digital line delivered, and
  whether a refund or a lost chargeback revoked it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 12:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _address_columns():
    return [
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("street_address", sa.String(200), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("city_area", sa.String(100), nullable=False),
        sa.Column("country_area", sa.String(100), nullable=False),
        sa.Column("postal_code", sa.String(20), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
    ]


def upgrade():
    op.create_table(
        "addresses",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
        *_address_columns(),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "order_addresses",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_id", ID, sa.ForeignKey("orders.id"), nullable=False, unique=True),
        sa.Column("address_id", ID, sa.ForeignKey("addresses.id"), nullable=True),
        *_address_columns(),
        sa.Column("chosen_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "shipments",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_line_id", ID, sa.ForeignKey("order_lines.id"), nullable=False,
                  unique=True),
        sa.Column("order_id", ID, sa.ForeignKey("orders.id"), nullable=False, index=True),
        sa.Column("seller_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("carrier", sa.String(40), nullable=False),
        sa.Column("tracking_ref", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("shipped_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fulfilment", sa.String(16), nullable=False,
                                      server_default="physical"))
        batch_op.add_column(sa.Column("credit_units", ID, nullable=False, server_default="0"))
    op.create_table(
        "digital_files",
        sa.Column("id", ID, primary_key=True),
        sa.Column("item_id", ID, sa.ForeignKey("items.id"), nullable=False, unique=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "digital_deliveries",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_line_id", ID, sa.ForeignKey("order_lines.id"), nullable=False,
                  unique=True),
        sa.Column("order_id", ID, sa.ForeignKey("orders.id"), nullable=False, index=True),
        sa.Column("buyer_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("seller_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("item_id", ID, sa.ForeignKey("items.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("credit_units", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoke_reason", sa.String(200), nullable=True),
        sa.CheckConstraint("credit_units >= 0", name="credit_not_negative"),
    )
    op.create_table(
        "licence_keys",
        sa.Column("id", ID, primary_key=True),
        sa.Column("item_id", ID, sa.ForeignKey("items.id"), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("delivery_id", ID, sa.ForeignKey("digital_deliveries.id"), nullable=True,
                  index=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
    )


def downgrade():
    op.drop_table("licence_keys")
    op.drop_table("digital_deliveries")
    op.drop_table("digital_files")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("credit_units")
        batch_op.drop_column("fulfilment")
    op.drop_table("shipments")
    op.drop_table("order_addresses")
    op.drop_table("addresses")
