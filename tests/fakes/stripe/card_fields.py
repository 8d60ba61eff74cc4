"""The split Card Element on the merchant's own form and the server-side confirmation of a
PaymentIntent: card frames on the fake's origin make a PaymentMethod (pm_…) with the
publishable key; the merchant's server confirms its PaymentIntent with it — on-session (3-D
Secure → next_action redirect_to_url, the challenge page in element.py, then return_url) or
off-session with a card saved on a Customer (a card that needs authentication answers 402
authentication_required, and the merchant brings the buyer back on-session). Customers and
PaymentMethods as Stripe keeps them; a card is attached to its Customer when a payment with
setup_future_usage succeeds (checkout._authorized).
"""
from __future__ import annotations

import re

from flask import jsonify, request

from tests.fakes.card_frames import frame_response, frame_script
from tests.fakes.stripe.checkout import (
    DECLINES,
    DISPUTE_ON_CAPTURE,
    THREE_D_SECURE,
    _authorized,
    _charge,
    _failed,
    luhn_ok,
    new_customer,
    new_payment_method,
)
from tests.fakes.stripe.element import CONFIRMABLE
from tests.fakes.stripe.payments import expand
from tests.fakes.stripe.state import ApiError, FakeStripe, invalid

AUTHENTICATION_REQUIRED = {
    "type": "card_error", "code": "authentication_required",
    "decline_code": "authentication_required",
    "message": "Your card was declined. This transaction requires authentication."}


def truthy(value) -> bool:
    """Stripe's form-encoded booleans."""
    return str(value).lower() in ("true", "1")


def confirm(fake: FakeStripe, intent: dict, method: dict, return_url: str | None,
            off_session: bool, key: str | None) -> None:
    """Try the card on the intent: authorized, requires_action (on-session 3-D Secure), or an
    ApiError 402 after the failure is recorded on the intent (Stripe saves it for the key)."""
    number = fake.extras[method["id"]]["number"]
    decline = DECLINES.get(number)
    charge = _charge(fake, intent, number, failed=decline, method=method)
    intent.update(latest_charge=charge["id"], payment_method=method["id"])
    if decline:
        code, decline_code, message = decline
        error = {"type": "card_error", "code": code, "decline_code": decline_code,
                 "message": message}
        _failed(fake, intent, charge, error)
        raise ApiError(402, "card_error", message, code=code, decline_code=decline_code,
                       executed=True)
    asked = fake.extras.get(intent["id"], {}).get("three_d_secure") == "any"
    if number == THREE_D_SECURE or (asked and number != DISPUTE_ON_CAPTURE):
        if off_session:  # nobody is there to authenticate
            charge.update(status="failed", paid=False, failure_code="authentication_required")
            _failed(fake, intent, charge, dict(AUTHENTICATION_REQUIRED))
            raise ApiError(402, "card_error", AUTHENTICATION_REQUIRED["message"],
                           code="authentication_required",
                           decline_code="authentication_required", executed=True)
        if not return_url:
            raise invalid("return_url is required to confirm a card that needs 3-D Secure "
                          "with a redirect.", param="return_url")
        url = f"{fake.public_url}/elements/3ds/{intent['id']}"
        fake.extras.setdefault(intent["id"], {})["return_url"] = return_url
        intent.update(status="requires_action", next_action={
            "type": "redirect_to_url",
            "redirect_to_url": {"url": url, "return_url": return_url}})
        fake.emit("payment_intent.requires_action", intent, key)
        return
    _authorized(fake, None, intent, charge)


def register(app, fake: FakeStripe) -> None:
    """GET /elements/card/<field>, /elements/frame.js; POST /elements/payment_methods;
    POST /v1/customers, GET /v1/payment_methods/<id>, POST /v1/payment_intents/<id> (update),
    POST /v1/payment_intents/<id>/confirm."""
    from tests.fakes.stripe.app import api_route

    @app.get("/elements/card/<field>")
    def card_frame(field):
        return frame_response(field, "/elements/frame.js", "/elements/payment_methods")

    @app.get("/elements/frame.js")
    def card_frame_js():
        return frame_script()

    @app.post("/elements/payment_methods")
    def browser_payment_method():
        """What stripe.js does with the publishable key: the card → a PaymentMethod."""
        body = request.get_json(silent=True) or {}
        if body.get("key") != fake.publishable_key:
            return jsonify(error={"type": "invalid_request_error",
                                  "message": "Invalid API Key provided."}), 401
        number = "".join(ch for ch in str(body.get("number") or "") if ch.isdigit())
        if not luhn_ok(number):
            return jsonify(error={"type": "card_error", "code": "incorrect_number",
                                  "param": "number",
                                  "message": "Your card number is incorrect."}), 402
        match = re.fullmatch(r"\s*(\d{1,2})\s*/?\s*(\d{2})\s*", str(body.get("expiry") or ""))
        if not match or not 1 <= int(match[1]) <= 12:
            return jsonify(error={"type": "card_error", "code": "invalid_expiry_month",
                                  "param": "expiry",
                                  "message": "Your card's expiry date is invalid."}), 402
        method = new_payment_method(fake, number, int(match[1]), 2000 + int(match[2]))
        return jsonify({"id": method["id"], "object": "payment_method", "type": "card",
                        "card": {"brand": method["card"]["brand"],
                                 "last4": method["card"]["last4"]}})

    @api_route(app, fake, "/v1/customers", methods=("POST",))
    def create_customer(params, key):
        return new_customer(fake, params)

    @api_route(app, fake, "/v1/payment_methods/<pmid>")
    def get_payment_method(params, key, pmid):
        return fake.get(pmid, "payment_method")

    @api_route(app, fake, "/v1/payment_intents/<pid>", methods=("POST",))
    def update_intent(params, key, pid):
        intent = fake.get(pid, "payment_intent")
        if intent["status"] not in CONFIRMABLE:
            raise invalid(f"This PaymentIntent's status is {intent['status']}.",
                          code="payment_intent_unexpected_state")
        if params.get("customer"):
            intent["customer"] = fake.get(params["customer"], "customer")["id"]
        if params.get("metadata"):
            intent["metadata"] = {**intent["metadata"], **params["metadata"]}
        return expand(fake, intent, params.get("expand"))

    @api_route(app, fake, "/v1/payment_intents/<pid>/confirm", methods=("POST",))
    def confirm_intent(params, key, pid):
        intent = fake.get(pid, "payment_intent")
        if intent["status"] not in CONFIRMABLE:
            raise invalid(f"You cannot confirm this PaymentIntent because it has a status of "
                          f"{intent['status']}.", code="payment_intent_unexpected_state")
        method = fake.get(params.get("payment_method") or intent.get("payment_method") or "",
                          "payment_method")
        if method["customer"] and method["customer"] != intent.get("customer"):
            raise invalid("The provided PaymentMethod belongs to another Customer.",
                          param="payment_method")
        off_session = truthy(params.get("off_session"))
        if off_session and not method["customer"]:
            raise invalid("A PaymentMethod must be attached to the Customer to be used "
                          "off-session.", param="payment_method")
        confirm(fake, intent, method, params.get("return_url"), off_session, key)
        return expand(fake, intent, params.get("expand"))
