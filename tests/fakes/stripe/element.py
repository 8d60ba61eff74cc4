"""The Payment Element: PaymentIntents created up front, a stand-in for stripe.js (/v3/) and
the card form it mounts in an iframe on the fake's own origin.

The merchant's page talks only to stripe.js; the card is typed into the iframe, which posts it
to this origin with the publishable key and the PaymentIntent's client_secret. A confirmed
card authorizes the PaymentIntent (manual capture) and the browser goes to the return_url with
the query Stripe adds; a declined card answers an error for the page to show; the 3-D Secure
test card sends the browser to a challenge page first. Signed payment_intent.* events follow.
"""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import abort, jsonify, redirect, render_template_string, request

from tests.fakes.stripe.checkout import (
    DECLINES,
    DISPUTE_ON_CAPTURE,
    THREE_D_SECURE,
    _authorized,
    _charge,
    _failed,
    luhn_ok,
)
from tests.fakes.stripe.forms import as_int
from tests.fakes.stripe.payments import expand, listing
from tests.fakes.stripe.state import FakeStripe, invalid

STRIPE_JS = Path(__file__).with_name("stripe_v3.js")
CONFIRMABLE = ("requires_payment_method", "requires_confirmation")

FRAME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Secure payment input</title></head>
<body><form id="card" autocomplete="on" novalidate>
<label>Card number <input name="number" autocomplete="cc-number" inputmode="numeric"></label>
<label>Expiry <input name="expiry" placeholder="MM / YY" autocomplete="cc-exp"></label>
<label>CVC <input name="cvc" inputmode="numeric" autocomplete="cc-csc"></label>
</form>
<script>
(function () {
  "use strict";
  // Set by stripe.js in the fragment: never sent to any server by the browser.
  var params = new URLSearchParams(location.hash.slice(1));
  var parentOrigin = params.get("origin");
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== parentOrigin) return;
    if (!event.data || event.data.type !== "confirm") return;
    var form = document.getElementById("card");
    fetch("/elements/confirm", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({key: params.get("key"), client_secret: params.get("client_secret"),
        return_url: event.data.return_url, number: form.number.value,
        expiry: form.expiry.value, cvc: form.cvc.value})})
      .then(function (answer) { return answer.json(); })
      .then(function (body) {
        window.parent.postMessage(body.redirect ? {type: "redirect", url: body.redirect}
                                                : {type: "result", error: body.error},
                                  parentOrigin);
      });
  });
  window.parent.postMessage({type: "ready"}, parentOrigin);
})();
</script></body></html>"""

CHALLENGE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>3-D Secure – Fake Stripe</title>
<link rel="icon" href="data:,"></head>
<body><main><h1>Confirm it is you</h1>
<p>Your bank asks you to authenticate this payment (3-D Secure test page).</p>
<form method="post">
  <button type="submit" name="outcome" value="pass">Complete authentication</button>
  <button type="submit" name="outcome" value="fail">Fail authentication</button>
</form></main></body></html>"""


def confirm_intent(fake: FakeStripe, intent: dict, number: str, return_url: str) -> dict:
    """The buyer confirms the Payment Element with a test card: {"redirect": url} when the
    browser should go on (authorized, or to the 3-D Secure page), else {"error": {...}}."""
    if not luhn_ok(number):
        return {"error": {"type": "validation_error", "code": "incorrect_number",
                          "message": "Your card number is incorrect."}}
    decline = DECLINES.get(number)
    charge = _charge(fake, intent, number, failed=decline)
    intent["latest_charge"] = charge["id"]
    fake.extras.setdefault(intent["id"], {})["return_url"] = return_url
    if decline:
        code, decline_code, message = decline
        error = {"type": "card_error", "code": code, "decline_code": decline_code,
                 "message": message}
        _failed(fake, intent, charge, error)
        return {"error": error}
    asked = fake.extras[intent["id"]].get("three_d_secure") == "any"
    if number == THREE_D_SECURE or (asked and number != DISPUTE_ON_CAPTURE):
        url = f"{fake.public_url}/elements/3ds/{intent['id']}"
        intent.update(status="requires_action", next_action={
            "type": "redirect_to_url",
            "redirect_to_url": {"url": url, "return_url": return_url}})
        fake.emit("payment_intent.requires_action", intent)
        return {"redirect": url}
    _authorized(fake, None, intent, charge)
    return {"redirect": returned_to(intent, return_url, "succeeded")}


def returned_to(intent: dict, return_url: str, outcome: str) -> str:
    """The return_url with the query stripe.js adds (the page must not trust it)."""
    joiner = "&" if urlsplit(return_url).query else "?"
    return return_url + joiner + urlencode({
        "payment_intent": intent["id"], "payment_intent_client_secret": intent["client_secret"],
        "redirect_status": outcome})


def register(app, fake: FakeStripe) -> None:
    """POST/GET /v1/payment_intents; GET /v3/; GET /elements/payment; POST /elements/confirm;
    GET/POST /elements/3ds/<id>."""
    from tests.fakes.stripe.app import api_route

    @api_route(app, fake, "/v1/payment_intents", methods=("POST",))
    def create_intent(params, key):
        amount = as_int(params.get("amount"), "amount")
        if amount <= 0:
            raise invalid("Amount must be at least 1.", code="amount_too_small", param="amount")
        if not params.get("currency"):
            raise invalid("Missing required param: currency.", code="parameter_missing",
                          param="currency")
        intent_id = fake.new_id("pi")
        intent = fake.put({
            "id": intent_id, "object": "payment_intent", "amount": amount,
            "currency": params["currency"], "status": "requires_payment_method",
            "capture_method": params.get("capture_method", "automatic"),
            "payment_method_types": params.get("payment_method_types") or ["card"],
            "setup_future_usage": params.get("setup_future_usage"),
            "amount_capturable": 0, "amount_received": 0, "latest_charge": None,
            "last_payment_error": None, "metadata": params.get("metadata") or {},
            "transfer_group": params.get("transfer_group"), "payment_method": None,
            "next_action": None, "customer": params.get("customer"),
            "client_secret": f"{intent_id}_secret_{fake.new_id('x')[2:]}",
            "canceled_at": None, "cancellation_reason": None, "created": int(time.time()),
            "livemode": False})
        card_options = (params.get("payment_method_options") or {}).get("card") or {}
        fake.extras.setdefault(intent_id, {})["three_d_secure"] = card_options.get(
            "request_three_d_secure", "automatic")
        fake.emit("payment_intent.created", intent, key)
        return expand(fake, intent, params.get("expand"))

    @api_route(app, fake, "/v1/payment_intents")
    def list_intents(params, key):
        return listing(fake.of_kind("payment_intent"), params, "/v1/payment_intents")

    @app.get("/v3/")
    def stripe_js():
        response = app.response_class(STRIPE_JS.read_text(), mimetype="text/javascript")
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @app.get("/elements/payment")
    def payment_frame():
        return render_template_string(FRAME)

    @app.post("/elements/confirm")
    def element_confirm():
        body = request.get_json(silent=True) or {}
        secret = str(body.get("client_secret") or "")
        intent = fake.objects.get(secret.partition("_secret_")[0])
        if body.get("key") != fake.publishable_key:
            return jsonify(error={"type": "invalid_request_error",
                                  "message": "Invalid API Key provided."}), 401
        if intent is None or intent.get("client_secret") != secret:
            return jsonify(error={"type": "invalid_request_error", "code": "resource_missing",
                                  "message": "No such payment_intent."}), 404
        if not str(body.get("return_url") or "").startswith(("http://", "https://")):
            return jsonify(error={"type": "invalid_request_error",
                                  "message": "return_url must be an absolute URL."}), 400
        with fake.lock:
            if intent["status"] not in CONFIRMABLE:
                return jsonify(error={"type": "invalid_request_error",
                                      "code": "payment_intent_unexpected_state",
                                      "message": f"This PaymentIntent's status is "
                                                 f"{intent['status']}."}), 400
            number = "".join(ch for ch in str(body.get("number") or "") if ch.isdigit())
            answer = confirm_intent(fake, intent, number, body["return_url"])
        return jsonify(answer), 402 if "error" in answer else 200

    @app.route("/elements/3ds/<pid>", methods=("GET", "POST"))
    def element_challenge(pid):
        intent = fake.objects.get(pid)
        if intent is None or intent["object"] != "payment_intent":
            abort(404)
        if intent["status"] != "requires_action" or not fake.extras.get(pid, {}).get(
                "return_url"):
            abort(409)
        if request.method == "GET":
            return render_template_string(CHALLENGE_PAGE)
        with fake.lock:
            url = settle_challenge(fake, intent, request.form.get("outcome") == "pass")
        return redirect(url, code=303)


def settle_challenge(fake: FakeStripe, intent: dict, passed: bool) -> str:
    """The buyer passes or fails 3-D Secure: the intent is authorized or back to needing a
    card; the return_url (with Stripe's query) the browser goes to either way."""
    charge = fake.objects[intent["latest_charge"]]
    intent["next_action"] = None
    if passed:
        _authorized(fake, None, intent, charge)
    else:
        charge.update(status="failed", paid=False, failure_code="authentication_required")
        _failed(fake, intent, charge, {
            "type": "invalid_request_error", "code": "payment_intent_authentication_failure",
            "message": "We are unable to authenticate your payment method. Please choose a "
                       "different payment method and try again."})
    return returned_to(intent, fake.extras[intent["id"]]["return_url"],
                       "succeeded" if passed else "failed")
