"""What must hold after every run: reference §5 on our side, and the PSP's own records."""
from __future__ import annotations

from sqlalchemy import select

from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import DisputeCase, Payment
from app.models.payouts import Payout
from app.models.refunds import Refund
from app.services.money.ledger_checks import check_all
from sim.world import World

S = PaymentStatus
PSP_FAULTS = ("ProviderError", "ProviderTimeout", "CircuitOpen")
# Our payout status → the PSP statuses that agree with it (a returned payout is "failed" there).
PAYOUT_MATCH = {"pending": {"pending"}, "in_transit": {"pending", "in_transit"},
                "paid": {"paid"}, "failed": {"failed"}, "returned": {"failed"}}
# Non-terminal states each have an owner; after the run settles, none may be left (unless a
# person was asked to decide: needs_review).
STUCK_PAYMENTS = {S.INITIATED, S.PROCESSING, S.AUTHORIZING, S.REQUIRES_ACTION, S.UNKNOWN,
                  S.AUTHORIZED, S.DECLINED}


def check(world: World, dead_letters: list) -> dict[str, list[str]]:
    """Violations by invariant (empty lists: all good)."""
    db.session.expire_all()
    # A job that used up its retries on PSP faults is noise when another owner settled its
    # object (a stuck object is reported as such); any other dead letter is a bug.
    found = {"ledger": check_all(), "psp_money": [], "psp_executions": [], "payouts": [],
             "chargebacks": [], "stuck": [], "dead_letter": [f"{job_id} {func}: {error}"
                                          for job_id, func, error in dead_letters
                                          if not error.startswith(PSP_FAULTS)]}
    for payment in db.session.execute(select(Payment)).scalars():
        if payment.psp_reference:
            _payment_matches(world, payment, found["psp_money"],
                             READERS.get(payment.provider, _at_sandbox))
        if payment.state in STUCK_PAYMENTS and not payment.needs_review \
                and not (payment.give_back and payment.state == S.CANCELLED):
            found["stuck"].append(f"payment {payment.id} {payment.status}")
    for refund in db.session.execute(select(Refund).where(Refund.status == "pending")).scalars():
        if not refund.needs_review:
            found["stuck"].append(f"refund {refund.id} pending")
    executions = world.psp_get("/v1/_stats")["executions"]
    found["psp_executions"] = [f"key {key} executed {count}×"
                               for key, count in sorted(executions.items()) if count != 1]
    # Stripe's Idempotency-Key: what the fake executed per key (a key whose call never
    # executed keeps no record there, as on Stripe).
    found["psp_executions"] += [f"Stripe key {key} executed {record.executions}×"
                                for key, record in sorted(world.stripe.fake.idempotency.items())
                                if record.executions != 1]
    # Braintree has no keys: our adapter's once-only reference is each sale's and credit's
    # order_id; captures and voids are once by status (the fake counts them per transaction).
    found["psp_executions"] += world.braintree.twice()
    _payouts_match(world, found)
    _chargebacks_match(world, found["chargebacks"])
    return found


def quiet(world: World) -> bool:
    """Nothing left for any owner: no job but the periodic chains, no webhook waiting at the
    PSP, nothing non-terminal on either side (the settling may stop early)."""
    from sandbox_psp import models as psp

    if world.jobs.ready or any(not job_id.startswith("periodic-")
                               for job_id in world.jobs.scheduled):
        return False
    db.session.expire_all()
    if db.session.execute(select(Payment.id).where(
            Payment.status.in_([s.value for s in STUCK_PAYMENTS])).limit(1)).first() \
            or db.session.execute(select(Refund.id).where(Refund.status == "pending")
                                  .limit(1)).first() \
            or db.session.execute(select(Payout.id).where(Payout.status.in_(
                ("pending", "in_transit"))).limit(1)).first():
        return False
    with world.psp.app_context():
        busy = (psp.db.session.execute(select(psp.Delivery.id).where(
                    psp.Delivery.status == "pending").limit(1)).first()
                or psp.db.session.execute(select(psp.Refund.id).where(
                    psp.Refund.status == "pending").limit(1)).first()
                or psp.db.session.execute(select(psp.Payout.id).where(
                    psp.Payout.status == "pending").limit(1)).first())
        events = set() if busy else set(psp.db.session.execute(select(psp.Event.id)).scalars())
        psp.db.session.remove()
    # Stripe's fake keeps no list our catch-up reads (the adapter has no recent_events):
    # quiet there is nothing left to deliver.
    return not busy and world.stripe.quiet() and _all_processed(events)


def _all_processed(event_ids: set) -> bool:
    """Every event the PSP made is in our inbox and settled there: a webhook it dropped (it
    believes it arrived) has been caught up (jobs/webhooks.catch_up_events) and applied. With
    this a run may stop settling as soon as it is quiet, not only after days."""
    from app.models.webhooks import InboxStatus, WebhookEvent

    settled = set(db.session.execute(select(WebhookEvent.event_id).where(
        WebhookEvent.provider == "sandbox",
        WebhookEvent.status.in_([InboxStatus.PROCESSED.value, InboxStatus.IGNORED.value])))
        .scalars())
    return event_ids <= settled


def _chargebacks_match(world: World, problems: list) -> None:
    """Every dispute the PSP has is a chargeback case of ours in the same status (the webhooks
    had days to arrive; a lost one is re-fetched by the owner of its case)."""
    ours = {case.psp_reference: case for case in db.session.execute(
        select(DisputeCase).where(DisputeCase.kind == "chargeback")).scalars()}
    disputes = world.psp_get("/v1/disputes?limit=100").get("data", []) \
        + world.stripe.fake.of_kind("dispute")
    for dispute in sorted(disputes, key=lambda d: d["id"]):
        case = ours.pop(dispute["id"], None)
        if case is None:
            problems.append(f"PSP dispute {dispute['id']} ({dispute['status']}) has no case")
        elif case.status != dispute["status"]:
            problems.append(f"case {case.id}: ours {case.status}, PSP {dispute['status']}")
    problems.extend(f"case {case.id} ({reference}) unknown to the PSP"
                    for reference, case in ours.items())


def _at_sandbox(world: World, reference: str) -> tuple[int, int]:
    at_psp = world.psp_get(f"/v1/payment_sessions/{reference}")
    return at_psp["amount_captured"], at_psp["amount_refunded"]


def _at_stripe(world: World, reference: str) -> tuple[int, int]:
    """Captured and refunded on the payment's charge at Stripe (a Checkout Session's through
    its PaymentIntent). Stripe counts a partial capture's released rest as "refunded": the
    buyer's refunds are what the fake booked as refunds."""
    fake = world.stripe.fake
    obj = fake.objects.get(reference) or {}
    if obj.get("object") == "checkout.session":
        obj = fake.objects.get(obj.get("payment_intent") or "") or {}
    charge = fake.objects.get(obj.get("latest_charge") or "")
    if charge is None or not charge.get("captured"):
        return 0, 0
    return charge["amount_captured"], fake.extras.get(charge["id"], {}).get("refunded", 0)


def _at_braintree(world: World, reference: str) -> tuple[int, int]:
    return world.braintree.money(reference)


READERS = {"stripe": _at_stripe, "braintree": _at_braintree}


def _payment_matches(world: World, payment: Payment, problems: list, at) -> None:
    psp_captured, psp_refunded = at(world, payment.psp_reference)
    ours = (payment.amount_captured, payment.amount_refunded)
    if payment.give_back:
        # Given back: what the PSP still holds must be what we still owe (nothing, once done).
        if psp_captured - psp_refunded != payment.amount_captured - payment.amount_refunded:
            problems.append(f"payment {payment.id} (given back): PSP kept "
                            f"{psp_captured - psp_refunded}, ledger "
                            f"{payment.amount_captured - payment.amount_refunded}")
        return
    if (psp_captured, psp_refunded) != ours:
        problems.append(f"payment {payment.id}: PSP captured/refunded {psp_captured}/"
                        f"{psp_refunded}, ours {ours[0]}/{ours[1]}")


def _payouts_match(world: World, found: dict) -> None:
    at_psp = {p["id"]: p for p in world.psp_get("/v1/payouts?limit=100").get("data", [])}
    ours = db.session.execute(select(Payout)).scalars().all()
    known = set()
    for payout in ours:
        if payout.status in ("pending", "in_transit") and not payout.needs_review:
            found["stuck"].append(f"payout {payout.id} {payout.status}")
        if payout.psp_reference is None:
            continue
        known.add(payout.psp_reference)
        psp = at_psp.get(payout.psp_reference)
        if psp is None or psp["amount"] != payout.amount:
            found["payouts"].append(f"payout {payout.id}: PSP {psp and psp['amount']}, ours "
                                    f"{payout.amount}")
        elif psp["status"] not in PAYOUT_MATCH[payout.status]:
            found["payouts"].append(f"payout {payout.id}: PSP {psp['status']}, ours "
                                    f"{payout.status}")
    for reference in sorted(set(at_psp) - known):
        found["payouts"].append(f"PSP payout {reference} ({at_psp[reference]['amount']}) that "
                                f"no payout of ours accounts for")
