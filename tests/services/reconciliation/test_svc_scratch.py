"""The match's working tables (services/reconciliation/scratch): each side grouped on its own,
a key's lines of other days folded into its sums, the window of our side, and settling that
leaves exactly the disagreeing objects' lines in clearing. Rows are written directly, as the
benchmark does, so that each case is one object and its lines."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from app.database import unit_of_work
from app.extensions import db
from app.models.ledger import LedgerEntry, LedgerTransaction
from app.models.reconciliation import Difference, SettlementLine
from app.services.money.ledger import _add_to_balances as add_to_balances
from app.services.reconciliation import matching, sides
from app.services.reconciliation.ledger_events import psp_object

PROVIDER = "sandbox"
DAY = datetime(2031, 3, 10)


def ledger(event: str, ref: str, net: int, at: datetime, stored: bool = True) -> None:
    """Our posting that moved `net` through PSP clearing for the object `ref` (intent-keyed);
    not `stored`: as from a caller that named no reference (worked out when matched)."""
    legs = [
        {"account": f"psp_clearing:{PROVIDER}", "kind": "psp_clearing", "owner": PROVIDER,
         "currency": "EUR", "amount": net, "created_at": at},
        {"account": "psp_fees", "kind": "psp_fees", "owner": "", "currency": "EUR",
         "amount": 0, "created_at": at},
        {"account": f"dispute_reserve:{PROVIDER}", "kind": "dispute_reserve",
         "owner": PROVIDER, "currency": "EUR", "amount": -net, "created_at": at}]
    intent = f"{event}:{PROVIDER}:{ref}"
    # Written raw for its created_at (ledger.post stamps now), so it stores what ledger.post
    # stores: the PSP object, and the running balances (checked after every test).
    txn = db.session.execute(insert(LedgerTransaction).values(
        intent=intent, event=event, currency="EUR", created_at=at,
        **{**psp_object(event, intent, legs), **({} if stored else {"psp_ref": None})})
        .returning(LedgerTransaction.id)).scalar_one()
    for leg in legs:
        leg["transaction_id"] = txn
    db.session.execute(insert(LedgerEntry), legs)
    add_to_balances(legs)


def line(reference: str, type_: str, source: str, net: int, day: datetime) -> None:
    db.session.execute(insert(SettlementLine).values(
        provider=PROVIDER, reference=reference, day=day.date().isoformat(), type=type_,
        source=source, payment=None, gross=net, fee=0, net=net, currency="EUR",
        created=int(day.timestamp()), payout=None, description=""))


def match(day: datetime = DAY) -> matching.MatchResult:
    db.session.commit()
    with unit_of_work():
        return matching.match_day(PROVIDER, day.date().isoformat())


def settled(reference: str) -> bool:
    db.session.expire_all()
    return db.session.execute(select(SettlementLine.settlement_txn_id).where(
        SettlementLine.reference == reference)).scalar_one() is not None


def open_kinds() -> dict[str, str]:
    return dict(db.session.execute(select(Difference.source, Difference.kind).where(
        Difference.provider == PROVIDER, Difference.status == "open")).all())


def test_only_the_disagreeing_objects_lines_stay_in_clearing(app):
    noon = DAY + timedelta(hours=12)
    for i, (psp_net, our_net) in enumerate(((-1000, -1000), (-2000, -2000), (-3000, -2900))):
        ledger("dispute_opened", f"dp_s{i}", our_net, noon)
        line(f"txn_s{i}", "dispute", f"dp_s{i}", psp_net, DAY)

    result = match()

    assert open_kinds() == {"dp_s2": "amount_mismatch"}
    assert (settled("txn_s0"), settled("txn_s1"), settled("txn_s2")) == (True, True, False)
    assert result.settled_lines == 2
    posted = db.session.execute(
        select(func.sum(LedgerEntry.amount)).join(LedgerTransaction)
        .where(LedgerTransaction.event == "settlement",
               LedgerEntry.account == f"psp_clearing:{PROVIDER}")).scalar_one()
    assert posted == 3000  # the two agreeing lines' net leaves clearing, not the third's


def test_an_objects_lines_of_other_days_count_with_the_days_and_settle_with_them(app):
    # An adjustment reported in two parts on two days; our one posting is their sum.
    ledger("psp_adjustment", "adj_s1", -250, DAY + timedelta(hours=9))
    line("txn_a1", "adjustment", "adj_s1", -100, DAY - timedelta(days=1))
    line("txn_a2", "adjustment", "adj_s1", -150, DAY)

    match()

    assert open_kinds() == {}
    assert settled("txn_a1") and settled("txn_a2")


def test_our_side_counts_the_window_before_the_day_but_a_line_alone_differs(app):
    # Our dispute posting three days before its line (inside the window) agrees with it;
    # one ten days before (outside it) is not seen by this day's match.
    ledger("dispute_opened", "dp_w1", -500, DAY - timedelta(days=3))
    line("txn_w1", "dispute", "dp_w1", -500, DAY)
    ledger("dispute_opened", "dp_w2", -700, DAY - sides.WINDOW - timedelta(days=3))
    line("txn_w2", "dispute", "dp_w2", -700, DAY)

    match()

    assert open_kinds() == {"dp_w2": "unknown_object"}
    assert settled("txn_w1") and not settled("txn_w2")


def test_what_our_ledger_moved_on_the_day_without_a_line_waits_in_transit(app):
    ledger("dispute_opened", "dp_t1", -800, DAY + timedelta(hours=20))

    result = match()

    assert open_kinds() == {"dp_t1": "in_transit"}
    assert result.settled_lines == 0


def test_a_second_match_of_the_day_changes_nothing(app):
    ledger("dispute_opened", "dp_r1", -900, DAY + timedelta(hours=1))
    line("txn_r1", "dispute", "dp_r1", -900, DAY)
    ledger("dispute_opened", "dp_r2", -100, DAY + timedelta(hours=2))
    line("txn_r2", "dispute", "dp_r2", -150, DAY)
    match()
    first = (open_kinds(), db.session.execute(select(func.count()).select_from(
        LedgerTransaction)).scalar_one())

    again = match()

    assert (open_kinds(), db.session.execute(select(func.count()).select_from(
        LedgerTransaction)).scalar_one()) == first
    assert again.settled_lines == 0 and again.open_differences == 1


def test_postings_whose_reference_was_not_stored_are_worked_out_when_matched(app):
    # A caller that named no reference (or a give-back refund, whose object is known only
    # later): matching works the object out from the posting, beside the stored ones.
    ledger("psp_adjustment", "adj_u1", -500, DAY + timedelta(hours=8), stored=False)
    line("txn_u1", "adjustment", "adj_u1", -500, DAY)
    ledger("psp_adjustment", "adj_u2", -400, DAY + timedelta(hours=10), stored=False)
    ledger("psp_adjustment", "adj_u3", -300, DAY + timedelta(hours=11))
    line("txn_u3", "adjustment", "adj_u3", -300, DAY)

    result = match()

    assert open_kinds() == {"adj_u2": "in_transit"}
    assert settled("txn_u1") and settled("txn_u3") and result.settled_lines == 2
