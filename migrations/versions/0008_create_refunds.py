"""refunds (and escrow holds' refunded amounts)

Refunds with their per-line split, and on each escrow hold the part returned to the buyer and
the platform fee given back with it. `refunds.case_id` has no foreign key: dispute_cases only
appears in 0009.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 15:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('refunds',
    sa.Column('id', ID, nullable=False),
    sa.Column('payment_id', ID, nullable=False),
    sa.Column('case_id', ID, nullable=True),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('amount', ID, nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('requested_by', sa.String(length=12), nullable=False),
    sa.Column('actor_id', ID, nullable=True),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('psp_reference', sa.String(length=64), nullable=True),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('settled_at', sa.DateTime(), nullable=True),
    sa.Column('reversed_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('amount > 0', name=op.f('ck_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_refunds_actor_id_users')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_refunds_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_refunds_idempotency_key')),
    sa.UniqueConstraint('provider', 'psp_reference', name='one_row_per_psp_refund')
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refunds_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refunds_status'), ['status'], unique=False)

    op.create_table('refund_lines',
    sa.Column('id', ID, nullable=False),
    sa.Column('refund_id', ID, nullable=False),
    sa.Column('order_line_id', ID, nullable=False),
    sa.Column('hold_id', ID, nullable=False),
    sa.Column('seller_id', ID, nullable=False),
    sa.Column('amount', ID, nullable=False),
    sa.Column('fee_returned', ID, nullable=False),
    sa.Column('released', sa.Boolean(), nullable=True),
    sa.CheckConstraint('amount > 0 AND fee_returned >= 0 AND fee_returned <= amount', name=op.f('ck_refund_lines_fee_within_amount')),
    sa.ForeignKeyConstraint(['hold_id'], ['escrow_holds.id'], name=op.f('fk_refund_lines_hold_id_escrow_holds')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_refund_lines_order_line_id_order_lines')),
    sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_refund_lines_refund_id_refunds')),
    sa.ForeignKeyConstraint(['seller_id'], ['users.id'], name=op.f('fk_refund_lines_seller_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_lines')),
    sa.UniqueConstraint('refund_id', 'order_line_id', name='one_part_per_line')
    )
    with op.batch_alter_table('refund_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refund_lines_hold_id'), ['hold_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refund_lines_order_line_id'), ['order_line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refund_lines_refund_id'), ['refund_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refund_lines_seller_id'), ['seller_id'], unique=False)

    with op.batch_alter_table('escrow_holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_amount', ID, server_default='0', nullable=False))
        batch_op.add_column(sa.Column('fee_returned', ID, server_default='0', nullable=False))
        batch_op.create_check_constraint(
            'refunded_within_gross', 'refunded_amount >= 0 AND refunded_amount <= gross_amount')
        batch_op.create_check_constraint(
            'fee_returned_within_fee', 'fee_returned >= 0 AND fee_returned <= fee_amount')


def downgrade():
    with op.batch_alter_table('escrow_holds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_escrow_holds_fee_returned_within_fee'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_escrow_holds_refunded_within_gross'), type_='check')
        batch_op.drop_column('fee_returned')
        batch_op.drop_column('refunded_amount')
    op.drop_table('refund_lines')
    op.drop_table('refunds')
