"""What happens outside the API in real life, for tests: the buyer paying, the bank disputing.

Python helpers (tests run the fake in-process) plus the same under /_fake/ over HTTP.
"""
from __future__ import annotations

import time

from flask import jsonify, request

from tests.fakes.stripe.checkout import CHALLENGE, authenticate, pay
from tests.fakes.stripe.disputes import close_dispute, open_dispute
from tests.fakes.stripe.state import ApiError, FakeStripe


def pay_session(fake: FakeStripe, session_id: str, card: str = "4242424242424242",
                challenge_passed: bool | None = True) -> str | None:
    """Pay a Checkout Session as the buyer would on the hosted page (None: authorized), and
    pass or fail a 3-D Secure challenge (None leaves it pending: CHALLENGE)."""
    with fake.lock:
        session = fake.get(session_id, "checkout.session")
        outcome = pay(fake, session, card)
        if outcome == CHALLENGE and challenge_passed is not None:
            outcome = authenticate(fake, session, challenge_passed)
        return outcome


def confirm_element(fake: FakeStripe, payment_intent_id: str, card: str = "4242424242424242",
                    return_url: str = "http://127.0.0.1/return",
                    challenge_passed: bool | None = True) -> dict:
    """Confirm a PaymentIntent as the buyer would in the Payment Element (the same code the
    element's iframe posts to): {"redirect": url} or {"error": {...}}; a 3-D Secure challenge
    is passed or failed (None leaves it pending, answering the challenge page's URL)."""
    from tests.fakes.stripe.element import confirm_intent, settle_challenge

    with fake.lock:
        intent = fake.get(payment_intent_id, "payment_intent")
        answer = confirm_intent(fake, intent, card, return_url)
        if intent["status"] == "requires_action" and challenge_passed is not None:
            answer = {"redirect": settle_challenge(fake, intent, challenge_passed)}
        return answer


def dispute(fake: FakeStripe, payment_intent_id: str, reason: str = "fraudulent") -> str:
    """The bank disputes a captured PaymentIntent's charge; the dispute id."""
    with fake.lock:
        intent = fake.get(payment_intent_id, "payment_intent")
        return open_dispute(fake, fake.objects[intent["latest_charge"]], reason)["id"]


def close(fake: FakeStripe, dispute_id: str, outcome: str) -> None:
    """The bank decides a dispute "won" or "lost"."""
    with fake.lock:
        close_dispute(fake, fake.get(dispute_id, "dispute"), outcome)


def settle_payout(fake: FakeStripe, payout_id: str, outcome: str = "paid",
                  failure_code: str = "account_closed") -> dict:
    """A connected account's bank answers its payout: "paid", or "failed" (also after paid:
    the bank sent it back), with Stripe's Connect webhook naming the account."""
    messages = {"account_closed": "The bank account has been closed.",
                "no_account": "The bank account details on file are probably incorrect.",
                "insufficient_funds": "Your Stripe account has insufficient funds."}
    with fake.lock:
        payout = fake.get(payout_id, "payout")
        if outcome not in ("paid", "failed") or payout["status"] in ("failed", "canceled") \
                or (outcome == "paid" and payout["status"] == "paid"):
            raise ApiError(400, "invalid_request_error",
                           f"Payout {payout_id} is {payout['status']}; it cannot be {outcome}.")
        payout["status"] = outcome
        if outcome == "failed":
            payout.update(failure_code=failure_code,
                          failure_message=messages.get(failure_code, "The payout failed."))
        account = fake.extras[payout_id]["account"]
    fake.emit(f"payout.{outcome}", payout, account=account)
    return payout


def register(app, fake: FakeStripe) -> None:
    """/_fake/disputes/<id>/close and /_fake/faults (not Stripe endpoints)."""

    @app.post("/_fake/disputes/<did>/close")
    def close_route(did):
        try:
            close(fake, did, (request.get_json(silent=True) or {}).get("outcome", ""))
        except ApiError as exc:
            return jsonify(exc.body), exc.status
        return jsonify(fake.objects[did])

    @app.post("/_fake/payouts/<pid>/settle")
    def settle_route(pid):
        body = request.get_json(silent=True) or {}
        try:
            return jsonify(settle_payout(fake, pid, body.get("outcome", "paid"),
                                         body.get("failure_code", "account_closed")))
        except ApiError as exc:
            return jsonify(exc.body), exc.status

    @app.post("/_fake/faults")
    def fault_route():
        body = request.get_json(silent=True) or {}
        fake.fail_next(body.get("fault", ""), body.get("method", "POST"))
        return jsonify({"queued": [f for f, _ in fake.faults]})


def automatic_payout(fake: FakeStripe, currency: str = "eur") -> str:
    """Stripe's automatic payout of the platform's balance to its bank: every balance
    transaction not swept yet is marked with the payout, which has its own transaction."""
    with fake.lock:
        unswept = [t for t in fake.of_kind("balance_transaction")
                   if t["currency"] == currency and not t.get("payout")]
        total = sum(t["net"] for t in unswept)
        payout = fake.put({"id": fake.new_id("po"), "object": "payout", "amount": total,
                           "currency": currency, "status": "paid", "automatic": True,
                           "created": int(time.time()), "arrival_date": int(time.time())})
        for txn in unswept:
            txn["payout"] = payout["id"]
        fake.balance_transaction(-total, currency, payout["id"], "payout", 0)["payout"] = \
            payout["id"]
    return payout["id"]
