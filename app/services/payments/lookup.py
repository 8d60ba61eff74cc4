"""Support's search for payments and a payment's whole timeline on one page (read-only).

One search box: each word narrows the search by what it looks like — an e-mail address (the
buyer's or a seller's), `#123` or a bare number (order or payment number), a PSP reference,
a card brand with its last 4 and expiry (`visa 4242 12/34`), an amount (`48.00`) or a day
(`2026-12-07`). Every condition is an indexed look-up, and results come a keyset page at a time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, exists, func, or_, select

from app.domain.money import CURRENCY_EXPONENTS, MoneyError, parse
from app.extensions import db
from app.keyset import Page, paginate
from app.models import (
    AuditRecord,
    DisputeCase,
    LedgerTransaction,
    Payment,
    WebhookEvent,
)
from app.models.orders import Order, OrderLine
from app.models.refunds import Refund
from app.models.users import User
from app.services import psp_calls
from app.services.errors import ServiceError

PAGE_SIZE = 50
MAX_WORDS = 8
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_NUMBER = re.compile(r"#?([0-9]{1,18})")
_LAST4 = re.compile(r"[0-9]{4}")
_EXPIRY = re.compile(r"(0?[1-9]|1[0-2])/([0-9]{2}|[0-9]{4})")
_AMOUNT = re.compile(r"[0-9]{1,12}[.,][0-9]{1,3}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_REFERENCE = re.compile(r"[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+|[A-Za-z0-9]{6,64}")
BRANDS = ("visa", "mastercard", "amex", "american express", "discover", "diners", "jcb",
          "unionpay", "maestro")


@dataclass(frozen=True)
class Query:
    """What support typed, read word by word."""

    text: str
    conditions: tuple
    understood: tuple[str, ...]   # how each word was read, shown back to support


def _amount_clause(word: str):
    clauses = []
    for currency, places in CURRENCY_EXPONENTS.items():
        try:
            minor = parse(word.replace(",", "."), currency).amount
        except MoneyError:
            continue
        clauses.append(and_(Payment.currency == currency, Payment.amount == minor))
    return or_(*clauses) if clauses else None


def parse_query(text: str) -> Query:
    """Read the search box; ServiceError if nothing in it can be searched for."""
    text = (text or "").strip()[:200]
    words = text.split()
    if not words:
        raise ServiceError("Type an e-mail, an order or payment number, a PSP reference, a "
                           "card (visa 4242 12/34), an amount or a date.")
    if len(words) > MAX_WORDS:
        raise ServiceError(f"Use at most {MAX_WORDS} words.")
    conditions, understood = [], []
    lowered = [w.lower() for w in words]
    i = 0
    while i < len(words):
        word, low = words[i], lowered[i]
        if _EMAIL.fullmatch(word):
            people = select(User.id).where(func.lower(User.email) == low)
            conditions.append(or_(
                Order.buyer_id.in_(people),
                exists().where(OrderLine.order_id == Order.id, OrderLine.seller_id.in_(people))))
            understood.append(f"e-mail {low}")
        elif low in BRANDS or (low == "american" and lowered[i + 1:i + 2] == ["express"]):
            brand = "amex" if low == "american" else low
            i += 1 if low == "american" else 0
            conditions.append(func.lower(Payment.card_brand) == brand)
            understood.append(f"card brand {brand}")
        elif _EXPIRY.fullmatch(word):
            month, year = _EXPIRY.fullmatch(word).groups()
            year_n = int(year) + (2000 if len(year) == 2 else 0)
            conditions.append(and_(Payment.card_exp_month == int(month),
                                   Payment.card_exp_year == year_n))
            understood.append(f"expiry {int(month):02d}/{year_n}")
        elif _DAY.fullmatch(word):
            try:
                day = date.fromisoformat(word)
            except ValueError:
                raise ServiceError(f"“{word}” is not a date.") from None
            start = datetime.combine(day, time.min)
            conditions.append(and_(Payment.created_at >= start,
                                   Payment.created_at < start + timedelta(days=1)))
            understood.append(f"created on {day.isoformat()}")
        elif _AMOUNT.fullmatch(word) and (clause := _amount_clause(word)) is not None:
            conditions.append(clause)
            understood.append(f"amount {word}")
        elif _LAST4.fullmatch(word) and any(u.startswith("card brand") for u in understood):
            conditions.append(Payment.card_last4 == word)
            understood.append(f"card ending {word}")
        elif _NUMBER.fullmatch(word):
            number = int(_NUMBER.fullmatch(word).group(1))
            if len(word.lstrip("#")) == 4 and not word.startswith("#"):
                conditions.append(or_(Payment.id == number, Payment.order_id == number,
                                      Payment.card_last4 == word))
                understood.append(f"payment, order number or card ending {word}")
            else:
                conditions.append(or_(Payment.id == number, Payment.order_id == number))
                understood.append(f"payment or order number {number}")
        elif _REFERENCE.fullmatch(word):
            refunded = select(Refund.payment_id).where(Refund.psp_reference == word)
            disputed = select(DisputeCase.payment_id).where(DisputeCase.psp_reference == word)
            conditions.append(or_(Payment.psp_reference == word, Payment.id.in_(refunded),
                                  Payment.id.in_(disputed)))
            understood.append(f"PSP reference {word}")
        else:
            raise ServiceError(f"“{word[:40]}” is none of: e-mail, number, PSP reference, card, "
                               "amount (48.00), date (2026-12-07).")
        i += 1
    return Query(text, tuple(conditions), tuple(understood))


def search(query: Query, cursor: str | None, size: int = PAGE_SIZE) -> Page:
    """Payments matching every word, newest first, one keyset page."""
    statement = select(Payment).join(Order, Order.id == Payment.order_id)
    for condition in query.conditions:
        statement = statement.where(condition)
    return paginate(statement, [Payment.id], cursor, size)


@dataclass(frozen=True)
class Event:
    """One line of a payment's timeline."""

    at: datetime
    kind: str       # status | psp call | webhook | ledger | refund | dispute | audit
    summary: str
    detail: str = ""
    link: str | None = None
    outcome: str | None = None   # a PSP call's: ok, timeout, http_error, circuit_open, …


def timeline(payment: Payment, limit: int = 500) -> list[Event]:
    """Everything that happened to a payment, oldest first: status changes, webhooks about it,
    ledger postings, refunds, disputes and audit records (of the payment and its order)."""
    events = [Event(c.created_at, "status", f"{c.from_status} → {c.to_status}", c.cause)
              for c in payment.changes]
    logged = psp_calls.for_payment(payment.id, limit)
    events += call_events(logged)
    if not logged:
        # Older than the call log (or pruned from it): what the payment itself remembers.
        events.append(Event(payment.created_at, "psp call",
                            f"{payment.provider}: open a {payment.integration_mode} session",
                            f"Idempotency-Key {payment.idempotency_key} → "
                            f"{payment.psp_reference or 'no answer recorded'} "
                            "(from the payment; no call log)"))
    references = [payment.psp_reference] if payment.psp_reference else []
    refunds = db.session.execute(select(Refund).where(Refund.payment_id == payment.id)
                                 .order_by(Refund.id)).scalars().all()
    cases = db.session.execute(select(DisputeCase).where(DisputeCase.payment_id == payment.id)
                               .order_by(DisputeCase.id)).scalars().all()
    references += [r.psp_reference for r in refunds if r.psp_reference]
    references += [c.psp_reference for c in cases if c.psp_reference]
    if references:
        for w in db.session.execute(
                select(WebhookEvent).where(WebhookEvent.object_id.in_(references),
                                           WebhookEvent.provider == payment.provider)
                .order_by(WebhookEvent.id).limit(limit)).scalars():
            events.append(Event(w.received_at, "webhook", f"{w.event_type} ({w.event_id})",
                                f"{w.status}{': ' + w.outcome if w.outcome else ''}"
                                f"{' — ' + w.last_error if w.last_error else ''}"))
    for t in db.session.execute(
            select(LedgerTransaction).where(LedgerTransaction.payment_id == payment.id)
            .order_by(LedgerTransaction.id).limit(limit)).scalars():
        legs = ", ".join(f"{e.account} {e.amount:+d}" for e in t.entries)
        events.append(Event(t.created_at, "ledger", f"{t.event} ({t.currency})", legs))
    for r in refunds:
        events.append(Event(r.created_at, "refund",
                            f"refund #{r.id} of {r.amount} {r.currency} requested by "
                            f"{r.requested_by}", r.reason))
        if r.sent_at and not logged:
            events.append(Event(r.sent_at, "psp call", f"{r.provider}: refund #{r.id}",
                                f"Idempotency-Key {r.idempotency_key} → "
                                f"{r.psp_reference or 'no answer recorded'}"))
        if r.settled_at:
            events.append(Event(r.settled_at, "refund", f"refund #{r.id} {r.status}",
                                r.failure_reason or (r.psp_reference or "")))
    for c in cases:
        events.append(Event(c.created_at, "dispute", f"{c.kind} #{c.id} opened: {c.reason}",
                            f"status {c.status}", link=f"/support/disputes/{c.id}"))
        if c.resolved_at:
            events.append(Event(c.resolved_at, "dispute", f"{c.kind} #{c.id} resolved",
                                c.resolution or ""))
    targets = [f"payment:{payment.id}", f"order:{payment.order_id}"]
    for a in db.session.execute(
            select(AuditRecord).where(AuditRecord.target.in_(targets))
            .order_by(AuditRecord.id.desc()).limit(limit)).scalars():
        events.append(Event(a.occurred_at, "audit", f"{a.action} by {a.actor}",
                            f"{a.outcome} from {a.origin}"))
    events.sort(key=lambda e: e.at)
    return events


OUTCOME_WORDS = {"ok": "ok", "timeout": "timed out (no answer)",
                 "connection_refused": "connection refused", "connection_lost": "connection lost",
                 "circuit_open": "refused here: circuit breaker open",
                 "throttled": "held back here: our rate limit",
                 "rate_limited": "HTTP 429 rate limited",
                 "refused": "refused by the adapter"}


def call_events(calls) -> list[Event]:
    """One timeline line per attempt of a PSP call, numbered per idempotency key, so a
    retry (the guard's or a job's) shows as the same call tried again."""
    tries: dict[tuple, int] = {}
    events = []
    for c in calls:
        said = OUTCOME_WORDS.get(c.outcome, c.outcome)
        if c.outcome == "http_error":
            said = f"HTTP {c.http_status}"
        if c.error_code and c.outcome not in ("ok", "timeout", c.error_code):
            said += f" {c.error_code}"
        if c.idempotency_key:
            mark = (c.instance, c.operation, c.idempotency_key)
            tries[mark] = tries.get(mark, 0) + 1
            detail = [f"try {tries[mark]} with this key" + (
                f", attempt {c.attempt} of its run" if c.attempt != tries[mark] else ""),
                f"Idempotency-Key {c.idempotency_key}"]
        else:  # a read: no key to retry under
            detail = [f"attempt {c.attempt}"]
        if c.psp_object_id:
            detail.append(f"{'→ ' if c.outcome == 'ok' else 'about '}{c.psp_object_id}")
        if c.psp_request_id:
            detail.append(f"request {c.psp_request_id}")
        where = c.instance if c.instance == c.provider else f"{c.instance} ({c.provider})"
        events.append(Event(c.at, "psp call", f"{where}: {c.operation} — {said}, "
                            f"{c.duration_ms} ms", " · ".join(detail), outcome=c.outcome))
    return events
