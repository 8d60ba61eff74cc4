"""Seller statements, read from the ledger: for a payout (every movement since the previous
payout, up to and including this one) or a calendar month, one currency.

Every line is a movement of the seller's available balance, grouped so that
  opening + sales − platform fees − refunds − dispute debits + reversals + adjustments
  − paid out = closing,
which `Statement.check` asserts before anything is issued. A release is shown gross with its
fee beside it; the rest as the balance moved. Issuing (statement_issue.py) freezes, signs and
audits the documents.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import func, select

from app.clock import now
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import EscrowHold, OrderLine, Payment, Payout, User
from app.models.ledger import LedgerEntry, LedgerTransaction
from app.services.errors import NotFound, ServiceError
from app.services.money import clawback_reports, statement_buyer

AVAILABLE = AccountKind.SELLER_AVAILABLE.value
# Which total each ledger event's movement belongs to (docs/statements.md).
GROUPS = {"escrow_release": "sales", "refund": "refunds", "fx_refund": "refunds",
          "fx_refund_reversed": "reversals", "dispute_opened": "disputes",
          "dispute_won": "reversals", "dispute_lost": "reversals",
          "refund_reversed": "reversals", "transfer_reversed": "reversals",
          "payout_failed": "adjustments", "payout_returned": "adjustments",
          "payout_sent": "paid_out"}
WORDS = {"escrow_release": "Sale released", "refund": "Refund to the buyer",
         "fx_refund": "Refund to the buyer", "fx_refund_reversed": "Refund reversed",
         "dispute_opened": "Chargeback: amount held", "dispute_won": "Chargeback won: released",
         "dispute_lost": "Chargeback closed: released", "refund_reversed": "Refund reversed",
         "transfer_reversed": "Negative balance recovered", "payout_failed": "Payout failed",
         "payout_returned": "Payout returned by the bank", "payout_sent": "Payout"}


@dataclass(frozen=True)
class Line:
    """One movement: `amount` is what it did to the available balance (+ more for the seller);
    for a sale, `gross` and `fee` show how the amount came about."""

    at: datetime
    event: str
    group: str
    description: str
    reference: str
    amount: int
    gross: int = 0
    fee: int = 0
    # A converted or taxed order: what the buyer paid or got back, their currency (for
    # information; the tax is not the seller's money).
    buyer: statement_buyer.BuyerSide | None = None


@dataclass
class Statement:
    """A period's lines and totals for one seller and currency."""

    seller_id: int
    seller_name: str
    seller_email: str
    currency: str
    period: str          # "payout:12" | "month:2026-11"
    title: str
    opening: int
    lines: list[Line] = field(default_factory=list)
    payout_id: int | None = None

    def total(self, group: str) -> int:
        """The movement of one group as the statement shows it (fees and debits positive)."""
        if group == "sales":
            return sum(x.gross for x in self.lines if x.group == "sales")
        if group == "fees":
            return sum(x.fee for x in self.lines if x.group == "sales")
        signed = sum(x.amount for x in self.lines if x.group == group)
        return -signed if group in ("refunds", "disputes", "paid_out") else signed

    @property
    def closing(self) -> int:
        """The available balance after the last line."""
        return self.opening + sum(x.amount for x in self.lines)

    def summary(self) -> list[tuple[str, int]]:
        """(label, signed amount) rows of the equation, from opening to closing."""
        return [("Opening balance", self.opening), ("Sales", self.total("sales")),
                ("Platform fees", -self.total("fees")), ("Refunds", -self.total("refunds")),
                ("Dispute debits", -self.total("disputes")),
                ("Reversals", self.total("reversals")),
                ("Adjustments", self.total("adjustments")),
                ("Paid out", -self.total("paid_out")), ("Closing balance", self.closing)]

    def tax_summary(self) -> list[tuple[str, str, int, int]]:
        """(label, currency, tax collected on these sales, tax given back by these refunds)
        per tax rate and country, in the buyers' currencies."""
        rows: dict[tuple[str, str], list[int]] = {}
        for x in self.lines:
            if x.buyer is None or not x.buyer.tax or x.group not in ("sales", "refunds"):
                continue
            label = x.buyer.tax_label or f"Tax {x.buyer.tax_country}"
            pair = rows.setdefault((label, x.buyer.currency), [0, 0])
            pair[0 if x.group == "sales" else 1] += x.buyer.tax
        return [(label, cur, collected, back)
                for (label, cur), (collected, back) in sorted(rows.items())]

    @property
    def notes(self) -> list[str]:
        """How the tax and the conversions on this statement are treated, when there are any."""
        notes = []
        if any(x.buyer is not None and x.buyer.tax for x in self.lines):
            notes.append(statement_buyer.TREATMENT)
        if any(x.buyer is not None and x.buyer.rate for x in self.lines):
            notes.append(statement_buyer.CONVERSION)
        return notes

    def check(self) -> None:
        """The equation holds (it cannot fail unless a line was misfiled: refuse to issue)."""
        if sum(amount for _, amount in self.summary()[:-1]) != self.closing:
            raise ServiceError("This statement does not add up; support has been told.")


def _month(key: str) -> tuple[datetime, datetime]:
    try:
        first = date.fromisoformat(key + "-01")
    except ValueError:
        raise ServiceError("A month is written YYYY-MM.") from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return datetime.combine(first, time.min), datetime.combine(following, time.min)


def _sent_tx(payout_id: int) -> int | None:
    return db.session.execute(select(LedgerTransaction.id).where(
        LedgerTransaction.intent == f"payout:sent:{payout_id}")).scalar()


def _bounds(seller_id: int, period: str, currency: str) -> tuple[object, object, str, int | None]:
    """(ledger transactions in the period, those before it, title, payout id)."""
    kind, _, key = period.partition(":")
    if kind == "month":
        start, end = _month(key)
        if end > now():
            raise ServiceError("A month's statement is issued once the month has ended.")
        return (LedgerTransaction.created_at >= start) & (LedgerTransaction.created_at < end), \
            LedgerTransaction.created_at < start, f"Statement for {start:%B %Y}", None
    if kind == "payout" and key.isdigit():
        payout = db.session.get(Payout, int(key))
        last = _sent_tx(payout.id) if payout is not None else None
        if payout is None or payout.seller_id != seller_id or payout.currency != currency \
                or last is None:
            raise NotFound("No such payout.")
        previous = db.session.execute(
            select(func.max(LedgerTransaction.id)).join(Payout, Payout.id ==
                                                        LedgerTransaction.payout_id)
            .where(LedgerTransaction.event == "payout_sent", Payout.seller_id == seller_id,
                   Payout.currency == currency, LedgerTransaction.id < last)).scalar() or 0
        return (LedgerTransaction.id > previous) & (LedgerTransaction.id <= last), \
            LedgerTransaction.id <= previous, f"Statement for payout #{payout.id}", payout.id
    raise ServiceError('A statement period is "payout:<id>" or "month:YYYY-MM".')


def build(seller_id: int, period: str, currency: str) -> Statement:
    """The statement's lines and totals, from the ledger (read-only)."""
    where, before, title, payout_id = _bounds(seller_id, period, currency)
    mine = (LedgerEntry.kind == AVAILABLE) & (LedgerEntry.owner == str(seller_id)) & \
        (LedgerEntry.currency == currency)
    # Credit-normal: the seller's balance is minus the signed sum of its entries.
    opening = -int(db.session.execute(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                                      .join(LedgerEntry.transaction).where(mine, before))
                   .scalar())
    seller = db.session.get(User, seller_id)
    statement = Statement(seller_id, seller.display_name, seller.email, currency, period, title,
                          opening, payout_id=payout_id)
    rows = db.session.execute(
        select(LedgerTransaction, LedgerEntry.amount).join(LedgerEntry.transaction)
        .where(mine, where).order_by(LedgerTransaction.id, LedgerEntry.id)).all()
    reversals = clawback_reports.statement_references([tx.intent for tx, _ in rows])
    for tx, signed in rows:
        statement.lines.append(_line(tx, -signed, seller_id, reversals))
    statement.check()
    return statement


def _line(tx: LedgerTransaction, amount: int, seller_id: int, reversals: dict) -> Line:
    group = GROUPS.get(tx.event, "adjustments")
    words = WORDS.get(tx.event, tx.event.replace("_", " ").capitalize())
    reference, gross, fee, buyer = reversals.get(tx.intent, ""), 0, 0, None
    if tx.escrow_id:
        hold = db.session.get(EscrowHold, tx.escrow_id)
        line = db.session.get(OrderLine, hold.order_line_id)
        reference, words = f"order {hold.order_id}", f"{words}: {line.quantity} × {line.title}"
        if group == "sales":
            buyer = statement_buyer.of_sale(line.id, hold.id, tx.created_at)
    elif tx.payout_id:
        reference = f"payout {tx.payout_id}"
    elif tx.payment_id:
        reference = f"order {db.session.get(Payment, tx.payment_id).order_id}"
        if group == "refunds":
            buyer = statement_buyer.of_refund(tx.intent, seller_id)
    if group == "sales":
        gross = next(e.amount for e in tx.entries if e.kind == AccountKind.ESCROW.value
                     and e.owner == str(seller_id))
        fee = gross - amount
    return Line(tx.created_at, tx.event, group, words, reference, amount, gross, fee, buyer)


@dataclass(frozen=True)
class Period:
    """A statement a seller can have: its key, currency, words, and whether it is issued."""

    period: str
    currency: str
    title: str
    statement_id: int | None


def periods(seller_id: int) -> list[Period]:
    """Every payout and every ended month with movements, newest first."""
    from app.models.statements import SellerStatement

    issued = {(s.period, s.currency): s.id for s in db.session.execute(select(
        SellerStatement).where(SellerStatement.seller_id == seller_id)).scalars()}
    found: list[tuple[str, str, str]] = []
    for payout in db.session.execute(select(Payout).where(
            Payout.seller_id == seller_id).order_by(Payout.id.desc())).scalars():
        found.append((f"payout:{payout.id}", payout.currency,
                      f"Payout #{payout.id} ({payout.created_at:%d %b %Y})"))
    months = db.session.execute(
        select(LedgerTransaction.created_at, LedgerEntry.currency).join(LedgerEntry.transaction)
        .where(LedgerEntry.kind == AVAILABLE, LedgerEntry.owner == str(seller_id))).all()
    this_month = now().strftime("%Y-%m")
    for key, currency in sorted({(at.strftime("%Y-%m"), c) for at, c in months}, reverse=True):
        if key < this_month:
            found.append((f"month:{key}", currency,
                          f"{datetime.strptime(key, '%Y-%m'):%B %Y}"))
    return [Period(p, c, t, issued.get((p, c))) for p, c, t in found]
