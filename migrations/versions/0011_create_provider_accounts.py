"""sellers' accounts at PSPs (Stripe connected accounts)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 15:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('provider_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('account_ref', sa.String(length=255), nullable=False),
    sa.Column('payouts_enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_provider_accounts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_accounts')),
    sa.UniqueConstraint('account_ref', name=op.f('uq_provider_accounts_account_ref')),
    sa.UniqueConstraint('user_id', 'provider', name=op.f('uq_provider_accounts_user_id'))
    )
    with op.batch_alter_table('provider_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_accounts_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('provider_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_accounts_user_id'))

    op.drop_table('provider_accounts')
