"""Checkout Sessions, PaymentIntents (manual capture), charges and refunds."""
from __future__ import annotations

import copy
import time

from tests.fakes.stripe.forms import as_int
from tests.fakes.stripe.state import ApiError, FakeStripe, charge_fee, invalid


def expand(fake: FakeStripe, obj: dict, paths: list[str]) -> dict:
    """A copy of obj with the `expand[]` paths (e.g. payment_intent.latest_charge) inlined."""
    result = copy.deepcopy(obj)
    for path in paths or []:
        _expand_path(fake, result, path.split("."))
    return result


def _expand_path(fake: FakeStripe, node: dict, parts: list[str]) -> None:
    value = node.get(parts[0])
    if isinstance(value, str) and value in fake.objects:
        value = node[parts[0]] = copy.deepcopy(fake.objects[value])
    if isinstance(value, dict) and len(parts) > 1:
        _expand_path(fake, value, parts[1:])
    elif isinstance(value, list) and len(parts) > 1:
        for item in value:
            if isinstance(item, dict):
                _expand_path(fake, item, parts[1:])


def listing(objects: list[dict], params: dict, url: str) -> dict:
    """A Stripe list page (limit, starting_after, created[gte])."""
    gte = (params.get("created") or {}).get("gte") if isinstance(params.get("created"), dict) \
        else None
    if gte is not None:
        objects = [o for o in objects if o["created"] >= int(gte)]
    after = params.get("starting_after")
    if after:
        ids = [o["id"] for o in objects]
        objects = objects[ids.index(after) + 1:] if after in ids else []
    limit = min(as_int(params.get("limit", 10), "limit"), 100)
    return {"object": "list", "url": url, "has_more": len(objects) > limit,
            "data": copy.deepcopy(objects[:limit])}


def register(app, fake: FakeStripe) -> None:
    """The payment routes."""
    from tests.fakes.stripe.app import api_route

    @api_route(app, fake, "/v1/checkout/sessions", methods=("POST",))
    def create_session(params, key):
        if params.get("mode") != "payment":
            raise invalid("Only mode=payment is supported by this fake.", param="mode")
        lines = params.get("line_items") or []
        if not lines or not params.get("success_url"):
            raise invalid("Missing required param: line_items/success_url.",
                          code="parameter_missing")
        currencies = {line["price_data"]["currency"] for line in lines}
        if len(currencies) != 1:
            raise invalid("All line items must share one currency.", param="line_items")
        total = sum(as_int(line["price_data"]["unit_amount"], "unit_amount")
                    * as_int(line.get("quantity", 1), "quantity") for line in lines)
        if total <= 0:
            raise invalid("Amount must be at least 1.", code="amount_too_small")
        pi_data = params.get("payment_intent_data") or {}
        now = int(time.time())
        session_id = fake.new_id("cs_test")
        session = {"id": session_id, "object": "checkout.session", "mode": "payment",
                   "status": "open", "payment_status": "unpaid", "amount_total": total,
                   "amount_subtotal": total, "currency": currencies.pop(),
                   "client_reference_id": params.get("client_reference_id"),
                   "metadata": params.get("metadata") or {},
                   "success_url": params["success_url"], "cancel_url": params.get("cancel_url"),
                   "url": f"{fake.public_url}/c/pay/{session_id}", "payment_intent": None,
                   "payment_method_types": ["card"], "customer": None, "livemode": False,
                   "created": now,
                   "expires_at": as_int(params.get("expires_at", now + 86400), "expires_at")}
        card_options = (params.get("payment_method_options") or {}).get("card") or {}
        fake.put(session, pi_data=pi_data,
                 three_d_secure=card_options.get("request_three_d_secure", "automatic"),
                 customer_creation=params.get("customer_creation"))
        return session

    @api_route(app, fake, "/v1/checkout/sessions")
    def list_sessions(params, key):
        sessions = fake.of_kind("checkout.session")
        if params.get("payment_intent"):
            sessions = [s for s in sessions if s["payment_intent"] == params["payment_intent"]]
        return listing(sessions, params, "/v1/checkout/sessions")

    @api_route(app, fake, "/v1/checkout/sessions/<sid>")
    def get_session(params, key, sid):
        return expand(fake, fake.get(sid, "checkout.session"), params.get("expand"))

    @api_route(app, fake, "/v1/checkout/sessions/<sid>/expire", methods=("POST",))
    def expire_session(params, key, sid):
        session = fake.get(sid, "checkout.session")
        if session["status"] != "open":
            raise invalid(f"Only Checkout Sessions with a status in [\"open\"] can be expired. "
                          f"This Checkout Session has a status of \"{session['status']}\".")
        session["status"] = "expired"
        if session["payment_intent"]:
            _cancel(fake, fake.objects[session["payment_intent"]], "abandoned", key)
        fake.emit("checkout.session.expired", session, key)
        return expand(fake, session, params.get("expand"))

    @api_route(app, fake, "/v1/payment_intents/<pid>")
    def get_intent(params, key, pid):
        return expand(fake, fake.get(pid, "payment_intent"), params.get("expand"))

    @api_route(app, fake, "/v1/payment_intents/<pid>/capture", methods=("POST",))
    def capture(params, key, pid):
        intent = fake.get(pid, "payment_intent")
        if intent["status"] != "requires_capture":
            raise invalid(f"This PaymentIntent could not be captured because it has a status "
                          f"of {intent['status']}.", code="payment_intent_unexpected_state")
        amount = as_int(params.get("amount_to_capture", intent["amount_capturable"]),
                        "amount_to_capture")
        if not 0 < amount <= intent["amount_capturable"]:
            raise invalid("The amount to capture must be positive and at most the amount "
                          "capturable.", code="amount_too_large", param="amount_to_capture")
        _capture(fake, intent, amount, key)
        return expand(fake, intent, params.get("expand"))

    @api_route(app, fake, "/v1/payment_intents/<pid>/cancel", methods=("POST",))
    def cancel(params, key, pid):
        intent = fake.get(pid, "payment_intent")
        if intent["status"] not in ("requires_payment_method", "requires_capture",
                                    "requires_confirmation", "requires_action"):
            raise invalid(f"You cannot cancel this PaymentIntent because it has a status of "
                          f"{intent['status']}.", code="payment_intent_unexpected_state")
        _cancel(fake, intent, params.get("cancellation_reason", "requested_by_customer"), key)
        return expand(fake, intent, params.get("expand"))

    @api_route(app, fake, "/v1/charges/<cid>")
    def get_charge(params, key, cid):
        return expand(fake, fake.get(cid, "charge"), params.get("expand"))

    @api_route(app, fake, "/v1/balance_transactions")
    def list_balance_transactions(params, key):
        """Newest first; `created[gte|lt]`, `type`, `payout`, `source` filter; `expand[]`
        data.source inlines each source object, as Stripe does."""
        found = fake.of_kind("balance_transaction")
        created = params.get("created") if isinstance(params.get("created"), dict) else {}
        if created.get("lt") is not None:
            found = [t for t in found if t["created"] < int(created["lt"])]
        for field in ("type", "payout", "source"):
            if params.get(field):
                found = [t for t in found if t.get(field) == params[field]]
        page = listing(found, params, "/v1/balance_transactions")
        paths = [p.removeprefix("data.") for p in params.get("expand") or []
                 if p.startswith("data.")]
        page["data"] = [expand(fake, t, paths) for t in page["data"]]
        return page

    @api_route(app, fake, "/v1/balance_transactions/<tid>")
    def get_balance_transaction(params, key, tid):
        return copy.deepcopy(fake.get(tid, "balance_transaction"))

    @api_route(app, fake, "/v1/refunds", methods=("POST",))
    def create_refund(params, key):
        if params.get("payment_intent"):
            intent = fake.get(params["payment_intent"], "payment_intent")
            charge = fake.objects.get(intent["latest_charge"] or "")
        else:
            charge = fake.get(params.get("charge"), "charge")
        if charge is None or not charge["captured"]:
            raise invalid("This PaymentIntent does not have a successful charge to refund.",
                          code="charge_not_refundable")
        remaining = charge["amount_captured"] - fake.extras[charge["id"]].get("refunded", 0)
        if remaining <= 0:
            raise invalid(f"Charge {charge['id']} has already been refunded.",
                          code="charge_already_refunded")
        amount = as_int(params.get("amount", remaining), "amount")
        if not 0 < amount <= remaining:
            raise invalid(f"Refund amount ({amount}) is greater than unrefunded amount on "
                          f"charge ({remaining})", code="amount_too_large", param="amount")
        refund = fake.put({"id": fake.new_id("re"), "object": "refund", "amount": amount,
                           "currency": charge["currency"], "charge": charge["id"],
                           "payment_intent": charge["payment_intent"],
                           "metadata": params.get("metadata") or {},
                           "reason": params.get("reason"), "status": "succeeded",
                           "failure_reason": None, "created": int(time.time()),
                           "balance_transaction": None})
        refund["balance_transaction"] = fake.balance_transaction(
            -amount, charge["currency"], refund["id"], "refund", 0)["id"]
        fake.extras[charge["id"]]["refunded"] = fake.extras[charge["id"]].get("refunded", 0) \
            + amount
        charge["amount_refunded"] += amount
        charge["refunded"] = fake.extras[charge["id"]]["refunded"] >= charge["amount_captured"]
        fake.emit("refund.created", refund, key)
        fake.emit("charge.refunded", charge, key)
        return refund

    @api_route(app, fake, "/v1/refunds")
    def list_refunds(params, key):
        refunds = fake.of_kind("refund")
        for field in ("payment_intent", "charge"):
            if params.get(field):
                refunds = [r for r in refunds if r[field] == params[field]]
        return listing(refunds, params, "/v1/refunds")

    @api_route(app, fake, "/v1/refunds/<rid>")
    def get_refund(params, key, rid):
        return expand(fake, fake.get(rid, "refund"), params.get("expand"))


def _capture(fake: FakeStripe, intent: dict, amount: int, key: str | None) -> None:
    charge = fake.objects[intent["latest_charge"]]
    intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
    # Stripe releases the uncaptured rest by refunding it on the charge.
    charge.update(captured=True, amount_captured=amount,
                  amount_refunded=charge["amount"] - amount)
    charge["balance_transaction"] = fake.balance_transaction(
        amount, charge["currency"], charge["id"], "charge", charge_fee(amount))["id"]
    fake.emit("charge.captured", charge, key)
    fake.emit("payment_intent.succeeded", intent, key)
    from tests.fakes.stripe.checkout import DISPUTE_ON_CAPTURE

    if fake.extras[charge["id"]]["card"] == DISPUTE_ON_CAPTURE:
        from tests.fakes.stripe.disputes import open_dispute

        open_dispute(fake, charge, "fraudulent")


def _cancel(fake: FakeStripe, intent: dict, reason: str, key: str | None) -> None:
    intent.update(status="canceled", canceled_at=int(time.time()), cancellation_reason=reason,
                  amount_capturable=0)
    fake.emit("payment_intent.canceled", intent, key)


__all__ = ["ApiError", "expand", "register"]
