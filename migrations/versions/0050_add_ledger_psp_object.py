"""ledger_transactions: the PSP object each posting moved money on (provider, line type,
reference, clearing moved, PSP fees booked), stored when posted, so that a day's match reads our
side as one range of (psp_provider, created_at) with no join to the legs, payments, refunds,
payouts, transfer reversals or conversions (issue 18, bench/reconciliation.py). Filled here for
the rows already posted by the rules reconciliation used to apply at match time
(services/reconciliation/sides.py before this revision); give-back refunds keep a NULL
reference (their object is known only once the PSP's refund line is in).

Revision ID: 0050
Revises: 0048
Create Date: 2026-12-07 22:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "0050"
down_revision = "0048"
branch_labels = None
depends_on = None
AMOUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STORED = "psp_ref IS NOT NULL"
UNRESOLVED = "psp_provider IS NOT NULL AND psp_ref IS NULL"

# Frozen copy of services/reconciliation/ledger_events.EVENT_TYPES at this revision.
EVENT_TYPES = {
    "capture": "charge", "give_back_captured": "charge", "psp_fee_corrected": "charge",
    "refund": "refund", "refund_reversed": "refund_failure", "give_back_refunded": "refund",
    "payout_paid": "payout", "payout_returned": "payout_failure",
    "transfer_reversed": "transfer_reversal",
    "dispute_opened": "dispute", "dispute_won": "dispute_reversal",
    "psp_adjustment": "adjustment", "treasury_conversion": "conversion",
    "treasury_funding": "topup", "treasury_sweep": "payout",
}
T = "ledger_transactions"
LEGS = f"FROM ledger_entries e WHERE e.transaction_id = {T}.id"


def _events(names) -> str:
    return ", ".join(f"'{name}'" for name in names)


def upgrade():
    with op.batch_alter_table(T) as batch:
        batch.add_column(sa.Column("psp_provider", sa.String(32), nullable=True))
        batch.add_column(sa.Column("psp_type", sa.String(20), nullable=True))
        batch.add_column(sa.Column("psp_ref", sa.String(64), nullable=True))
        batch.add_column(sa.Column("psp_net", AMOUNT, nullable=True))
        batch.add_column(sa.Column("psp_fee", AMOUNT, nullable=True))
    # Provider, clearing and fees from the legs: only postings that move exactly one PSP's
    # clearing and that a settlement line reports (as matching counted them).
    types = " ".join(f"WHEN '{e}' THEN '{t}'" for e, t in EVENT_TYPES.items())
    op.execute(
        f"UPDATE {T} SET "
        f"psp_provider = (SELECT MIN(e.owner) {LEGS} AND e.kind = 'psp_clearing'), "
        f"psp_type = CASE event {types} END, "
        f"psp_net = (SELECT SUM(e.amount) {LEGS} AND e.kind = 'psp_clearing'), "
        f"psp_fee = (SELECT COALESCE(SUM(e.amount), 0) {LEGS} AND e.account = 'psp_fees') "
        f"WHERE event IN ({_events(EVENT_TYPES)}) AND "
        f"(SELECT COUNT(DISTINCT e.owner) {LEGS} AND e.kind = 'psp_clearing') = 1")

    def ref(table, on):
        return f"(SELECT x.psp_reference FROM {table} x WHERE {on})"

    by_row = {
        ("capture", "give_back_captured"): ref("payments", f"x.id = {T}.payment_id"),
        ("refund",): ref("refunds", f"x.payment_id = {T}.payment_id AND {T}.intent = "
                                    f"'refund:' || CAST(x.id AS VARCHAR(20))"),
        ("refund_reversed",): ref("refunds", f"x.payment_id = {T}.payment_id AND {T}.intent = "
                                             f"'refund_reversed:' || CAST(x.id AS VARCHAR(20))"),
        ("payout_paid", "payout_returned"): ref("payouts", f"x.id = {T}.payout_id"),
        ("transfer_reversed",): ref("transfer_reversals", f"{T}.intent = "
                                    f"'transfer_reversed:' || CAST(x.id AS VARCHAR(20))"),
        ("treasury_conversion",): (
            f"(SELECT x.psp_reference || ':' || {T}.currency FROM treasury_conversions x "
            f"WHERE {T}.intent = 'conversion:' || CAST(x.id AS VARCHAR(20)) || ':' || "
            f"{T}.currency)"),
    }
    for events, reference in by_row.items():
        op.execute(f"UPDATE {T} SET psp_ref = {reference} "
                   f"WHERE psp_provider IS NOT NULL AND event IN ({_events(events)})")
    named = {e for events in by_row for e in events} | {"give_back_refunded"}
    # Every other event names its object in its intent: "<event>:<provider>:<reference>".
    op.execute(f"UPDATE {T} SET psp_ref = SUBSTR(intent, LENGTH(event) + LENGTH(psp_provider)"
               f" + 3) WHERE psp_provider IS NOT NULL AND event NOT IN ({_events(named)})")
    # Created after the backfill: filled in one pass, not entry by entry.
    op.create_index("ix_ledger_transactions_psp_day", T,
                    ["psp_provider", "created_at", "psp_type", "psp_ref"],
                    sqlite_where=sa.text(STORED), postgresql_where=sa.text(STORED))
    op.create_index("ix_ledger_transactions_psp_object", T,
                    ["psp_ref", "psp_type", "psp_provider", "created_at", "psp_net", "psp_fee",
                     "currency"], sqlite_where=sa.text(STORED), postgresql_where=sa.text(STORED))
    op.create_index("ix_ledger_transactions_psp_unresolved", T, ["psp_provider", "created_at"],
                    sqlite_where=sa.text(UNRESOLVED), postgresql_where=sa.text(UNRESOLVED))


def downgrade():
    op.drop_index("ix_ledger_transactions_psp_unresolved", table_name=T)
    op.drop_index("ix_ledger_transactions_psp_object", table_name=T)
    op.drop_index("ix_ledger_transactions_psp_day", table_name=T)
    with op.batch_alter_table(T) as batch:
        for name in ("psp_fee", "psp_net", "psp_ref", "psp_type", "psp_provider"):
            batch.drop_column(name)
