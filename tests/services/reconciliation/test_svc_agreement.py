"""SQL settles the objects whose sides agree without asking Python (sides.agrees), so that
condition must say exactly what domain.reconciliation.classify says: checked here over every
combination of presence, type, count, currencies and amounts that classify looks at."""
from __future__ import annotations

import itertools

from sqlalchemy import Integer, String, literal, select

from app.domain.reconciliation import LedgerSide, PspSide, classify
from app.extensions import db
from app.services.reconciliation.sides import agrees

TYPES = ("charge", "refund", "payout", "adjustment", "transfer_reversal")
PSP = [None] + [PspSide(n, gross, fee, gross - fee, frozenset(cur))
                for n, (gross, fee), cur in itertools.product(
                    (0, 1, 2), ((1000, 30), (1000, 0), (970, 30)),
                    (("EUR",), ("EUR", "USD"), ("USD",)))]
OURS = [None] + [LedgerSide(net, fee, frozenset(cur))
                 for (net, fee), cur in itertools.product(
                     ((970, 30), (1000, 0), (940, 30)), (("EUR",), ("EUR", "USD")))]


def sql_agrees(type_, psp, ours) -> bool:
    def v(x, type_=Integer):  # typed, so PostgreSQL knows a NULL's type
        return literal(x, type_)

    def cur(x):
        return literal(x, String)
    p = psp or PspSide(0, 0, 0, 0, frozenset({None}))
    o = ours or LedgerSide(0, 0, frozenset({None}))
    condition = agrees(
        cur(type_), v(1 if psp else None), v(p.count), v(p.gross), v(p.fee), v(p.net),
        cur(min(p.currencies, key=str)), cur(max(p.currencies, key=str)),
        v(1 if ours else None), v(o.net), v(o.fee), cur(min(o.currencies, key=str)),
        cur(max(o.currencies, key=str)))
    return bool(db.session.execute(select(condition)).scalar())


def test_sql_agreement_is_classify_saying_nothing_differs(app):
    checked = agreeing = 0
    for type_, psp, ours in itertools.product(TYPES, PSP, OURS):
        expected = classify(type_, psp, ours, known=True, report_after_seen=True) is None
        assert sql_agrees(type_, psp, ours) == expected, (type_, psp, ours)
        checked += 1
        agreeing += expected
    assert checked == len(TYPES) * len(PSP) * len(OURS) and 0 < agreeing < checked
