"""What people and time do in a run: each step calls the real services as a page would."""
from __future__ import annotations

from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import or_, select

from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import DisputeCase, EscrowHold, Payment
from app.models.refunds import Refund
from app.providers.base import ProviderError
from app.services.audit import Actor
from app.services.errors import ServiceError
from sim import buyers
from sim.world import PASSWORD, World

S = PaymentStatus
SUPPORT = Actor("support@sim.example", "127.0.0.1")
IBANS = ("DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606")
# pm_card_createDispute: captured, then disputed by the issuer (a chargeback).
CARDS = ["pm_card_visa"] * 6 + ["pm_card_chargeDeclined", "pm_card_threeDSecure2Required",
                                "pm_card_threeDSecure2Required", "pm_card_createDispute"]
DECISIONS = ("refund_full", "refund_partial", "release", "split")
# The buyer's choice on the pay page: the PSP's page, it in an iframe, or its fields on ours.
MODES = ("hosted", "embedded", "fields")

# step → weight; the seed draws steps in these proportions.
STEPS = {"checkout": 4, "pay": 8, "pay_twice": 1, "pay_saved": 2, "answer_3ds": 2,
         "refund": 5, "refund_twice": 1, "seller_refund": 2, "release": 4, "payout": 3,
         "bank_change": 1, "fail_refund": 1, "return_payout": 1, "claim": 2, "decide": 2,
         "close_dispute": 1, "redis_down": 1, "advance": 4, "work": 12, "deliver": 7}


class Expected(Exception):
    """A refusal a person would read (nothing to do, not allowed): part of the run."""


def _pick(rng, rows):
    if not rows:
        raise Expected("nothing to act on")
    return rng.choice(rows)


def _ids(*where, model=Payment):
    return list(db.session.execute(select(model.id).where(*where).order_by(model.id)).scalars())


def do(world: World, step: str, rng, people: dict) -> str:
    """Run one step; returns what it did (for the trace)."""
    try:
        return STEP_FUNCS[step](world, rng, people)
    except (ServiceError, ProviderError) as exc:
        return f"refused: {type(exc).__name__}: {exc}"[:120]
    except Expected as exc:
        return f"skipped: {exc}"
    except RedisError as exc:  # after its commit: the person sees an error page, owners recover
        db.session.rollback()
        return f"error page (Redis down): {exc}"[:120]


def checkout(world, rng, people):
    from app.services.checkout import checkout as service
    from app.services.checkout import orders
    from app.services.shop import cart

    buyer = rng.choice(["buyer", "buyer2"])
    for item in rng.sample(["mug", "candle", "lamp"], rng.randint(1, 2)):
        cart.set_quantity(people[buyer], people[item], rng.randint(1, 2), add=True)
    actor = Actor(f"{buyer}@sim.example", "127.0.0.1", user_id=people[buyer])
    order_id = orders.place_order(people[buyer], "EUR", actor)
    save = rng.random() < 0.4  # "Save my card": the vault keeps it once it has paid
    mode = rng.choice(MODES)
    with world.platform.test_request_context():
        start = service.start_payment(order_id, people[buyer], mode, actor, save_card=save)
    payment = db.session.get(Payment, start.payment_id)
    return (f"order {order_id} payment {start.payment_id} ({mode} at {payment.provider})"
            + (" (save card)" if save else ""))


def pay(world, rng, people, card=None):
    # Braintree has no session: its payment gets a reference from the nonce's sale.
    payment_id = _pick(rng, _ids(Payment.status.in_([S.PROCESSING.value, S.DECLINED.value]),
                                 or_(Payment.psp_reference.is_not(None),
                                     Payment.provider == "braintree")))
    payment = db.session.get(Payment, payment_id)
    return buyers.pay(world, payment, card or rng.choice(CARDS), rng)


def pay_twice(world, rng, people):
    """The buyer pays an order on a second session while the first is still live."""
    from app.services.checkout import checkout as service

    payment_id = _pick(rng, _ids(Payment.status == S.PROCESSING.value,
                                 Payment.psp_reference.is_not(None)))
    first = db.session.get(Payment, payment_id)
    actor = Actor("buyer@sim.example", "127.0.0.1")
    second_id = service._new_payment(first.order_id, "embedded", actor)
    with world.platform.test_request_context():
        service._open_session(second_id, actor)
    second = db.session.get(Payment, second_id)
    for payment in (first, second):
        if payment.psp_reference:
            buyers.pay(world, payment, "pm_card_visa", rng)
    return f"order {first.order_id} paid on payments {first.id} and {second_id}"


def pay_saved(world, rng, people):
    """A returning buyer pays an order awaiting payment with a saved card (server-side
    authorization; a 3-D Secure card leaves the payment waiting for the challenge)."""
    from app.models import Order, SavedPaymentMethod
    from app.services.checkout import checkout as service
    from app.services.checkout import orders

    cards = list(db.session.execute(select(SavedPaymentMethod.id, SavedPaymentMethod.buyer_id)
                                    .where(SavedPaymentMethod.revoked_at.is_(None))
                                    .order_by(SavedPaymentMethod.id)))
    method_id, buyer_id = _pick(rng, cards)
    provider = db.session.get(SavedPaymentMethod, method_id).provider
    actor = Actor("buyer@sim.example", "127.0.0.1", user_id=buyer_id)
    waiting = _ids(Order.buyer_id == buyer_id, Order.status == "awaiting_payment", model=Order)
    if waiting and rng.random() < 0.5:
        order_id = rng.choice(waiting)   # an order whose hosted session is still live
    else:                                # a new order, paid with the card straight away
        from app.services.shop import cart

        cart.set_quantity(buyer_id, people[rng.choice(["mug", "candle", "lamp"])], 1, add=True)
        order_id = orders.place_order(buyer_id, "EUR", actor)
    with world.platform.test_request_context():
        start = service.pay_with_saved(order_id, buyer_id, method_id, actor)
    return (f"order {order_id} paid with saved card {method_id} ({provider}): "
            f"payment {start.payment_id}"
            + (" (3-D Secure asked)" if start.redirect_url else ""))


def answer_3ds(world, rng, people):
    """The buyer answers the issuer's 3-D Secure challenge on the PSP's page: passes or fails."""
    from sandbox_psp.models import PaymentSession
    from sandbox_psp.models import db as psp_db

    # The PSP's own record says who is being challenged (our status may lag its webhook).
    with world.psp.app_context():
        waiting = {row.id: (row.mode, row.form_token) for row in psp_db.session.execute(
            psp_db.select(PaymentSession).where(PaymentSession.status == "requires_action")
            .order_by(PaymentSession.id)).scalars()}
    payment_id = _pick(rng, _ids(Payment.psp_reference.in_(sorted(waiting))))
    reference = db.session.get(Payment, payment_id).psp_reference
    mode, token = waiting[reference]
    kind = {"hosted": "pay", "embedded": "embed", "fields": "auth"}.get(mode)
    if kind is None:
        raise Expected(f"no challenge page for a {mode} session")
    outcome = rng.choice(["complete", "complete", "fail"])
    answer = world.psp.test_client().post(f"/{kind}/{reference}/3ds",
                                          data={"form_token": token, "outcome": outcome})
    return f"buyer answers 3-D Secure on payment {payment_id}: {outcome} ({answer.status_code})"


def _refundable():
    return _ids(Payment.status.in_([S.CAPTURED.value, S.PARTIALLY_REFUNDED.value]),
                Payment.give_back.is_(None))


def refund(world, rng, people, twice=False):
    from app.services.refunds import refunds

    payment_id = _pick(rng, _refundable())
    room = refunds.plan(payment_id).total
    if room <= 0:
        raise Expected("nothing left to refund")
    amount = rng.randint(1, room)
    intent = refunds.mint_intent()
    made = [refunds.request_refund(payment_id, amount=amount, reason="sim", actor=SUPPORT,
                                   by="support", intent_key=intent).status]
    if twice:  # the same confirmation posted again
        made.append(refunds.request_refund(payment_id, amount=amount, reason="sim",
                                           actor=SUPPORT, by="support",
                                           intent_key=intent).status)
    return f"refund {amount} of payment {payment_id}: {made}"


def seller_refund(world, rng, people):
    from app.services.refunds import refunds

    hold_id = _pick(rng, _ids(EscrowHold.status == "held", model=EscrowHold))
    hold = db.session.get(EscrowHold, hold_id)
    room = refunds.line_room(hold)
    if room <= 0:
        raise Expected("nothing left on the line")
    payment = refunds.captured_payment(hold.order_id)
    actor = Actor("seller@sim.example", "127.0.0.1", user_id=hold.seller_id)
    amount = rng.randint(1, room)
    made = refunds.request_refund(payment.id, lines={hold.order_line_id: amount}, reason="sim",
                                  actor=actor, by="seller", intent_key=refunds.mint_intent())
    return f"seller refund {amount} of line {hold.order_line_id}: {made.status}"


def release(world, rng, people):
    from app.services.money import escrow

    hold_id = _pick(rng, _ids(EscrowHold.status == "held", model=EscrowHold))
    escrow.support_decide(hold_id, "release", SUPPORT)
    return f"release hold {hold_id}"


def payout(world, rng, people):
    from app.extensions import queues
    from app.services.money import payouts

    seller = rng.choice(["seller", "seller2"])
    payout_id = payouts.book_payout(people[seller], "EUR", SUPPORT, manual=True)
    if payout_id is None:
        raise Expected("nothing to pay out")
    queues.enqueue("app.jobs.payouts.submit_payout", payout_id,
                   job_id=f"payout-submit-{payout_id}")
    return f"payout {payout_id} booked for {seller}"


def bank_change(world, rng, people):
    from app.services.money import bank_accounts

    seller = rng.choice(["seller", "seller2"])
    iban = rng.choice(IBANS)
    bank_accounts.register_or_change(people[seller], PASSWORD, seller.title(), SUPPORT,
                                     iban=iban)
    return f"{seller} bank account → …{iban[-4:]}"


def fail_refund(world, rng, people):
    """The bank fails a refund that had succeeded (a day or more later)."""
    refund_id = _pick(rng, _ids(Refund.status == "succeeded", Refund.psp_reference.is_not(None),
                                model=Refund))
    reference = db.session.get(Refund, refund_id).psp_reference
    answer = world.psp_post(f"/v1/test_helpers/refunds/{reference}/fail")
    return f"refund {refund_id} fails late at the PSP: {answer.get('status')}"


def return_payout(world, rng, people):
    """The bank sends a payout the PSP had paid back, days later (ours may still be in
    transit, its paid webhook late or lost)."""
    paid = sorted(p["id"] for p in world.psp_get("/v1/payouts?limit=100").get("data", [])
                  if p["status"] == "paid")
    reference = _pick(rng, paid)
    answer = world.psp_post(f"/v1/test_helpers/payouts/{reference}/return")
    return f"payout {reference} returned by the bank: {answer.get('status')}"


def claim(world, rng, people):
    """The buyer opens a claim on a line still in escrow."""
    from app.services.disputes import claims

    hold_id = _pick(rng, _ids(EscrowHold.status == "held", model=EscrowHold))
    hold = db.session.get(EscrowHold, hold_id)
    buyer = hold.order.buyer_id
    actor = Actor("buyer@sim.example", "127.0.0.1", user_id=buyer)
    case = claims.open_claim(buyer, hold.order_line_id,
                             rng.choice(["not_received", "not_as_described"]), "sim", [], actor)
    return f"claim {case.id} on line {hold.order_line_id}"


def decide(world, rng, people):
    """Support decides an open claim: a full or partial refund, a release, or a split."""
    from app.domain.dispute_states import CLAIM_OPEN
    from app.services.disputes import decisions

    case_id = _pick(rng, _ids(DisputeCase.kind == "claim",
                              DisputeCase.status.in_([s.value for s in CLAIM_OPEN]),
                              model=DisputeCase))
    case = db.session.get(DisputeCase, case_id)
    action = rng.choice(DECISIONS)
    amount = rng.randint(1, case.amount) if action in ("refund_partial", "split") else None
    actor = Actor("support@sim.example", "127.0.0.1", user_id=people["support"])
    decided = decisions.decide(case_id, decisions.Decision(action, amount), actor)
    return f"claim {case_id} decided {action} {amount or ''}: {decided.status}"


def close_dispute(world, rng, people):
    """The issuer decides an open chargeback, won or lost."""
    open_at_psp = sorted(d["id"] for d in world.psp_get("/v1/disputes?limit=100").get("data", [])
                         if d["status"] in ("needs_response", "under_review"))
    if world.stripe.open_disputes() and (not open_at_psp or rng.random() < 0.5):
        return world.stripe.close_dispute(rng)
    reference = _pick(rng, open_at_psp)
    outcome = rng.choice(["won", "lost"])
    answer = world.psp_post(f"/v1/test_helpers/disputes/{reference}/close",
                            {"outcome": outcome})
    return f"dispute {reference} closed {outcome}: {answer.get('status')}"


def redis_down(world, rng, people):
    """Redis becomes unreachable for a few steps, and comes back as it was or flushed."""
    if world.outage is not None:
        raise Expected("Redis is already down")
    span, flush = rng.randint(1, 6), rng.random() < 0.4
    world.outage_start(world.step + span + 1, flush)
    return f"Redis down for {span} steps" + (", flushed when it returns" if flush else "")


def advance(world, rng, people):
    # Mostly minutes (a buyer's session lives 30 min), now and then hours or a day.
    seconds = rng.choice([5, 30, 60, 120, 300, 600, 900, 3600, 6 * 3600, 26 * 3600])
    world.clock.advance(seconds)
    world.jobs.promote()
    return f"clock +{timedelta(seconds=seconds)}"


def work(world, rng, people):
    if world.jobs.down:
        return "jobs: none (Redis down, no worker can dequeue)"
    reseeded = world.ensure_periodic()  # the worker's maintenance round
    world.jobs.promote()
    done = []
    for _ in range(rng.randint(1, 6)):
        if not world.jobs.ready:
            break
        job_id = rng.choice(sorted(world.jobs.ready))
        crash = rng.random() < 0.05
        failure = world.run_job(job_id, crash=crash)
        done.append(job_id + (" (crashed after its effect)" if crash else "")
                    + (f" failed: {failure}" if failure else ""))
    return ("jobs: " + ("; ".join(done) or "none ready")
            + (f" (re-seeded {', '.join(reseeded)})" if reseeded else ""))


def deliver(world, rng, people):
    return f"webhooks: {world.deliver()} attempts"


STEP_FUNCS = {"checkout": checkout, "pay": pay, "pay_twice": pay_twice, "pay_saved": pay_saved,
              "answer_3ds": answer_3ds, "redis_down": redis_down, "refund": refund,
              "refund_twice": lambda w, r, p: refund(w, r, p, twice=True),
              "seller_refund": seller_refund, "release": release, "payout": payout,
              "bank_change": bank_change, "fail_refund": fail_refund,
              "return_payout": return_payout, "claim": claim, "decide": decide,
              "close_dispute": close_dispute,
              "advance": advance, "work": work, "deliver": deliver}
