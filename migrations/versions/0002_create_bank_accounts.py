"""create_bank_accounts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bank_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seller_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('holder_name', sa.String(length=120), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('replaced_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("kind IN ('iban', 'us_account')", name=op.f('ck_bank_accounts_kind_known')),
    sa.ForeignKeyConstraint(['seller_id'], ['users.id'], name=op.f('fk_bank_accounts_seller_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_accounts'))
    )
    with op.batch_alter_table('bank_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_accounts_seller_id'), ['seller_id'], unique=False)
        # At most one current (not replaced) account per seller.
        batch_op.create_index('uq_bank_accounts_one_current', ['seller_id'], unique=True,
                              sqlite_where=sa.text('replaced_at IS NULL'),
                              postgresql_where=sa.text('replaced_at IS NULL'))


def downgrade():
    with op.batch_alter_table('bank_accounts', schema=None) as batch_op:
        batch_op.drop_index('uq_bank_accounts_one_current')
        batch_op.drop_index(batch_op.f('ix_bank_accounts_seller_id'))

    op.drop_table('bank_accounts')
