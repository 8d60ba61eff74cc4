"""Warm SQLAlchemy's compiled-statement cache in a worker's own process before it forks.

SQLAlchemy compiles a statement the first time the engine executes it and keeps the result on
the engine; a forked work horse inherits that cache, but anything first executed *in* a horse
is compiled there and thrown away when it exits. Profiled (docs/performance.md, "Worker
throughput"): about a third of a horse's CPU for a capture event went to compiling its
statements afresh. So before its first job the worker applies one capture, the webhook
worker's commonest event, to rows it makes for the purpose, inside a transaction it rolls
back: the real service code runs (so the cached statements are exactly the job's), and
nothing of it is ever committed.
"""
from __future__ import annotations

import logging
import uuid

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import pause_points
from app.database import WRITE_OPTION
from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import Item, Order, OrderLine, Payment, User, WebhookEvent
from app.providers.base import CardDisplay, ProviderPayment
from app.services import audit, inbox
from app.services.audit import Actor
from app.services.payments import payments

log = logging.getLogger(__name__)
AMOUNT = 1000


def warm_capture(app: Flask) -> bool:
    """Apply one whole capture in a transaction that is rolled back; False (logged) when it
    could not: a cold cache only costs time, so a worker still starts."""
    commits = pause_points._commits  # fault tests count the job's commits, not these
    try:
        with app.app_context(), db.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            outer = conn.begin()
            # Every commit of the services below releases a savepoint of `outer` instead.
            session = Session(bind=conn, join_transaction_mode="create_savepoint")
            # The audit log checkpoints its head outside the database after each commit: a
            # head this rollback undoes must never be anchored there (verify_chain would read
            # it as records removed).
            event.listen(session, "before_commit", lambda s: s.info.pop(audit._HEAD, None))
            db.session.registry.set(session)
            try:
                _capture_once(session)
            finally:
                db.session.registry.clear()
                session.close()
                outer.rollback()
        return True
    except Exception:  # noqa: BLE001  (an optimisation: never the reason a worker fails)
        log.warning("could not warm the statement cache; horses compile their own",
                    exc_info=True)
        return False
    finally:
        pause_points._commits = commits


def _capture_once(session: Session) -> None:
    tag = uuid.uuid4().hex[:12]
    buyer, seller = (User(email=f"warmup-{role}-{tag}@holdfast.invalid", role=role,
                          display_name="warm-up", password_hash="!") for role in ("buyer",
                                                                                  "seller"))
    session.add_all([buyer, seller])
    session.flush()
    item = Item(seller_id=seller.id, title="warm-up", description="", price_amount=AMOUNT,
                currency="EUR", stock=1, active=False)
    order = Order(buyer_id=buyer.id, currency="EUR", total_amount=AMOUNT)
    session.add_all([item, order])
    session.flush()
    payment = Payment(order_id=order.id, provider="sandbox", integration_mode="hosted",
                      amount=AMOUNT, currency="EUR", idempotency_key=f"warmup-{tag}",
                      psp_reference=f"warmup-{tag}", status=PaymentStatus.PROCESSING.value)
    event = WebhookEvent(provider="sandbox", event_id=f"warmup-{tag}",
                         event_type="payment_session.captured",
                         object_id=payment.psp_reference, payload="{}")
    session.add_all([OrderLine(order_id=order.id, item_id=item.id, seller_id=seller.id,
                               title="warm-up", unit_amount=AMOUNT, quantity=1,
                               line_total=AMOUNT, currency="EUR", fee_bps=1000, fee_fixed=0,
                               fee_minimum=0), payment, event])
    session.commit()  # releases the savepoint: still inside `outer`
    # As process_event does: the inbox row, the payment by its reference, then the capture.
    stored = inbox.pending(event.id)
    found = payments.find_payment("sandbox", stored.object_id, None)
    report = ProviderPayment(found.psp_reference, PaymentStatus.CAPTURED, "captured", AMOUNT,
                             "EUR", amount_authorized=AMOUNT, amount_captured=AMOUNT,
                             fee_amount=54, card=CardDisplay("visa", "4242"))
    outcome = payments.apply_report(found.id, report, "worker warm-up",
                                    Actor("system:warmup", "worker"), inbox_id=event.id)
    if outcome.result != "moved":
        raise RuntimeError(f"warm-up capture did not move: {outcome}")
