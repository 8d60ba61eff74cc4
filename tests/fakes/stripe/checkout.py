"""The buyer's side of a Checkout Session: a test card typed on the hosted page authorizes,
declines, or asks for 3-D Secure first."""
from __future__ import annotations

import time

from tests.fakes.stripe.state import FakeStripe

# Stripe's test cards that decline: number → (code, decline_code, message).
DECLINES = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds",
                         "Your card has insufficient funds."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc",
                         "Your card's security code is incorrect."),
    "4100000000000019": ("card_declined", "fraudulent", "Your card was declined."),
}
DISPUTE_ON_CAPTURE = "4000000000000259"
# Radar's test cards: number → (outcome.risk_level, risk_score); others are "normal".
RISK = {"4000000000009235": ("elevated", 65), "4000000000004954": ("highest", 85),
        "4100000000000019": ("highest", 95)}
THREE_D_SECURE = "4000002760003184"
CHALLENGE = "requires_action"   # pay()'s answer when the bank wants the buyer to authenticate


def luhn_ok(number: str) -> bool:
    """The Luhn check every card number passes before anything else."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, digit in enumerate(reversed(number)):
        d = int(digit) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def pay(fake: FakeStripe, session: dict, number: str) -> str | None:
    """The buyer submits a card on the hosted page: None when authorized, CHALLENGE when the
    bank wants 3-D Secure first, else the message the page shows."""
    intent = _intent_for(fake, session)
    if not luhn_ok(number):
        return "Your card number is incorrect."
    decline = DECLINES.get(number)
    charge = _charge(fake, intent, number, failed=decline)
    intent["latest_charge"] = charge["id"]
    if decline:
        code, decline_code, message = decline
        return _failed(fake, intent, charge, {"type": "card_error", "code": code,
                                              "decline_code": decline_code,
                                              "message": message})
    asked = fake.extras[session["id"]].get("three_d_secure") == "any"
    if number == THREE_D_SECURE or (asked and number != DISPUTE_ON_CAPTURE):
        intent.update(status="requires_action", next_action={
            "type": "redirect_to_url",
            "redirect_to_url": {"url": f"{fake.public_url}/c/pay/{session['id']}/3ds",
                                "return_url": session["success_url"]}})
        fake.emit("payment_intent.requires_action", intent)
        return CHALLENGE
    return _authorized(fake, session, intent, charge)


def authenticate(fake: FakeStripe, session: dict, passed: bool) -> str | None:
    """The buyer passes or fails the 3-D Secure challenge: None when authorized, else the
    message the page shows."""
    intent = fake.objects[session["payment_intent"]]
    charge = fake.objects[intent["latest_charge"]]
    intent["next_action"] = None
    if passed:
        return _authorized(fake, session, intent, charge)
    charge.update(status="failed", paid=False, failure_code="authentication_required")
    return _failed(fake, intent, charge, {
        "type": "invalid_request_error", "code": "payment_intent_authentication_failure",
        "message": "We are unable to authenticate your payment method. Please choose a "
                   "different payment method and try again."})


def _authorized(fake: FakeStripe, session: dict | None, intent: dict, charge: dict) -> None:
    intent.update(status="requires_capture", amount_capturable=intent["amount"],
                  last_payment_error=None, payment_method=charge["payment_method"])
    method = fake.objects.get(charge["payment_method"])
    if method is not None and intent.get("customer") and intent.get("setup_future_usage"):
        # setup_future_usage with a Customer: Stripe attaches the card to the Customer once
        # the payment succeeds, so it can pay again off-session.
        method["customer"] = intent["customer"]
    fake.emit("charge.succeeded", charge)
    fake.emit("payment_intent.amount_capturable_updated", intent)
    if session is not None:  # a Payment Element's PaymentIntent has no Checkout Session
        session.update(status="complete", payment_status="unpaid")
        fake.emit("checkout.session.completed", session)


def _failed(fake: FakeStripe, intent: dict, charge: dict, error: dict) -> str:
    intent.update(status="requires_payment_method",
                  last_payment_error={**error, "charge": charge["id"]})
    fake.emit("charge.failed", charge)
    fake.emit("payment_intent.payment_failed", intent)
    return error["message"]


def _intent_for(fake: FakeStripe, session: dict) -> dict:
    # The PaymentIntent appears when the buyer first confirms, as with Checkout since 2022-08-01.
    if session["payment_intent"]:
        return fake.objects[session["payment_intent"]]
    pi_data = fake.extras[session["id"]]["pi_data"]
    intent_id = fake.new_id("pi")
    intent = fake.put({
        "id": intent_id, "object": "payment_intent", "amount": session["amount_total"],
        "currency": session["currency"], "status": "requires_payment_method",
        "capture_method": pi_data.get("capture_method", "automatic"),
        "amount_capturable": 0, "amount_received": 0, "latest_charge": None,
        "last_payment_error": None, "metadata": pi_data.get("metadata") or {},
        "transfer_group": pi_data.get("transfer_group"), "payment_method": None,
        "setup_future_usage": pi_data.get("setup_future_usage"), "customer": None,
        "client_secret": f"{intent_id}_secret_{fake.new_id('x')[2:]}",
        "canceled_at": None, "cancellation_reason": None, "created": int(time.time()),
        "livemode": False})
    if fake.extras[session["id"]].get("customer_creation") == "always":
        # Checkout creates the Customer the saved card is attached to.
        customer = new_customer(fake, {"metadata": session.get("metadata") or {}})
        intent["customer"] = session["customer"] = customer["id"]
    session["payment_intent"] = intent_id
    fake.emit("payment_intent.created", intent)
    return intent


def new_customer(fake: FakeStripe, params: dict) -> dict:
    """A Customer (what saved cards are attached to)."""
    return fake.put({"id": fake.new_id("cus"), "object": "customer",
                     "email": params.get("email"), "metadata": params.get("metadata") or {},
                     "created": int(time.time()), "livemode": False})


def new_payment_method(fake: FakeStripe, number: str, exp_month: int = 12,
                       exp_year: int = 2030) -> dict:
    """A card PaymentMethod; the number stays a fake-only fact (Stripe never shows it)."""
    brand = {"4": "visa", "5": "mastercard", "3": "amex"}.get(number[:1], "unknown")
    return fake.put({"id": fake.new_id("pm"), "object": "payment_method", "type": "card",
                     "card": {"brand": brand, "last4": number[-4:], "exp_month": exp_month,
                              "exp_year": exp_year, "fingerprint": f"fp{number[-8:]}",
                              "country": "US"},
                     "customer": None, "metadata": {}, "created": int(time.time()),
                     "livemode": False}, number=number)


def _charge(fake: FakeStripe, intent: dict, number: str, failed,
            method: dict | None = None) -> dict:
    method = method or new_payment_method(fake, number)
    method_id = method["id"]
    return fake.put({
        "id": fake.new_id("ch"), "object": "charge", "amount": intent["amount"],
        "currency": intent["currency"], "amount_captured": 0, "amount_refunded": 0,
        "captured": False, "paid": not failed, "refunded": False, "disputed": False,
        "status": "failed" if failed else "succeeded", "payment_intent": intent["id"],
        "payment_method": method_id, "balance_transaction": None,
        "customer": intent.get("customer"),
        "failure_code": failed[0] if failed else None,
        "failure_message": failed[2] if failed else None,
        "outcome": {"type": "issuer_declined" if failed else "authorized",
                    "network_status": "declined_by_network" if failed
                    else "approved_by_network", "reason": failed[1] if failed else None,
                    "risk_level": RISK.get(number, ("normal", 20))[0],
                    "risk_score": RISK.get(number, ("normal", 20))[1]},
        "payment_method_details": {"type": "card", "card": dict(method["card"])},
        "transfer_group": intent["transfer_group"], "created": int(time.time()),
        "metadata": {}, "livemode": False}, refunded=0, card=number)


