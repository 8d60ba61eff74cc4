"""audit_log.key_id and position: the chain is keyed (HMAC under AUDIT_KEY) and countable

Existing records are left exactly as written (key_id NULL, position NULL): they stay verifiable
as the chain's legacy prefix (plain SHA-256, checked as before). They are not re-signed: doing
so would need UPDATEs the append-only trigger (0007) refuses, and would let whoever runs the
migration vouch for records nobody can check any more. Instead the first keyed record chains
from the last legacy hash and carries the legacy count in its position, so the legacy prefix is
sealed by the first HMAC and by every checkpoint written after it; `flask audit verify` refuses
a legacy record that appears after a keyed one.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("position")
        batch_op.drop_column("key_id")
