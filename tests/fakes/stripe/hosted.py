"""The hosted Checkout page: the buyer types a test card, the fake redirects to success_url."""
from __future__ import annotations

from flask import abort, redirect, render_template_string, request

from tests.fakes.stripe.checkout import CHALLENGE, authenticate, pay
from tests.fakes.stripe.state import FakeStripe

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pay – Fake Stripe Checkout</title>
<link rel="icon" href="data:,"></head>
<body><main>
<h1>Fake Stripe Checkout</h1>
<p>Amount: <strong>{{ "%.2f"|format(session.amount_total / 100) }} {{ session.currency|upper }}</strong></p>
{% if challenge %}
  <h2>Confirm it is you</h2>
  <p>Your bank asks you to authenticate this payment (3-D Secure test page).</p>
  <form method="post" action="/c/pay/{{ session.id }}/3ds">
    <button type="submit" name="outcome" value="pass">Complete authentication</button>
    <button type="submit" name="outcome" value="fail">Fail authentication</button>
  </form>
{% elif session.status != "open" %}
  <p role="status">This checkout session is {{ session.status }}.</p>
{% else %}
  {% if error %}<p role="alert">{{ error }}</p>{% endif %}
  <form method="post">
    <label>Card number <input name="number" autocomplete="cc-number" inputmode="numeric"></label>
    <label>Expiry <input name="expiry" placeholder="MM/YY"></label>
    <label>CVC <input name="cvc" inputmode="numeric"></label>
    <label>Name on card <input name="name"></label>
    <button type="submit">Pay {{ "%.2f"|format(session.amount_total / 100) }}</button>
  </form>
  {% if session.cancel_url %}<p><a href="{{ session.cancel_url }}">Back</a></p>{% endif %}
{% endif %}
</main></body></html>"""


def register(app, fake: FakeStripe) -> None:
    """GET/POST /c/pay/<session id>, POST /c/pay/<session id>/3ds."""

    @app.route("/c/pay/<sid>", methods=("GET", "POST"))
    def hosted_page(sid):
        session = _session(sid)
        outcome = None
        if request.method == "POST" and session["status"] == "open":
            number = "".join(ch for ch in request.form.get("number", "") if ch.isdigit())
            with fake.lock:
                outcome = pay(fake, session, number)
            return _answer(session, outcome, tried=True)
        return _answer(session, None)

    @app.post("/c/pay/<sid>/3ds")
    def challenge(sid):
        session = _session(sid)
        intent = fake.objects.get(session["payment_intent"] or "")
        if intent is None or intent["status"] != "requires_action":
            return _answer(session, None)
        with fake.lock:
            outcome = authenticate(fake, session, request.form.get("outcome") == "pass")
        return _answer(session, outcome, tried=True)

    def _session(sid: str) -> dict:
        session = fake.objects.get(sid)
        if session is None or session["object"] != "checkout.session":
            abort(404)
        return session

    def _answer(session: dict, outcome: str | None, tried: bool = False):
        if tried and outcome is None:  # authorized just now: back to the merchant
            return redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}",
                                                           session["id"]), code=303)
        challenge = outcome == CHALLENGE
        error = None if challenge else outcome
        response = app.make_response(render_template_string(
            PAGE, session=session, error=error, challenge=challenge))
        response.headers["Cache-Control"] = "no-store"
        return response, 402 if error else 200
