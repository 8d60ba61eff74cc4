"""audit_log is append-only on PostgreSQL: a trigger refuses UPDATE and DELETE

A trigger rather than REVOKE: it binds every role the application may connect as, including a
superuser or the table's owner (REVOKE does not). TRUNCATE does not fire row triggers, so the test
suite's per-test cleanup still works; production operators also REVOKE TRUNCATE, UPDATE, DELETE
from the application's role (docs/operations.md, "Audit log"). SQLite has no such protection:
there `flask audit verify` is what catches a rewrite.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % of record % refused', TG_OP, OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
    """)
    op.execute("""
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()
    """)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_refuse_change()")
