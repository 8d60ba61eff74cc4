"""The buyer's side of each checkout mode, driven as the browser drives it.

- hosted and embedded (the PSP's page, in a tab or an iframe): the page authorizes the session
  with the card the buyer typed; here the PSP's API does what its page does.
- fields (the PSP's card fields on our page): the number frame tokenizes the card at the PSP's
  own origin, our page posts only the token, and our server authorizes with it
  (services/checkout/card_fields.pay); a 3-D Secure card sends the buyer to the PSP's challenge
  page (`answer_3ds` answers it).
"""
from __future__ import annotations

from app.models import Payment
from sandbox_psp.cards import PAYMENT_METHOD_TOKENS


def pay(world, payment: Payment, card: str, rng) -> str:
    """The buyer pays `payment` with the test card `card` (a pm_card_… name); what happened.
    At Stripe a 3-D Secure challenge is answered there and then (passed 2 times in 3)."""
    if payment.provider == "stripe":
        passed = rng.random() < 2 / 3
        what = world.stripe.pay(payment, PAYMENT_METHOD_TOKENS[card], passed)
        return f"buyer pays payment {payment.id} with {card} at Stripe: {what}"
    if payment.provider == "braintree":
        what = world.braintree.pay(payment, PAYMENT_METHOD_TOKENS[card])
        return f"buyer pays payment {payment.id} with {card} at Braintree: {what}"
    if payment.integration_mode == "fields":
        return _pay_in_fields(world, payment, card)
    answer = world.psp_post(f"/v1/payment_sessions/{payment.psp_reference}/authorize",
                            {"payment_method": card})
    return f"buyer pays payment {payment.id} with {card}: {answer.get('status')}"


def sandbox_token(world, card: str) -> str:
    """What the sandbox's number frame does in the browser: tokenize at the PSP's origin."""
    answer = world.psp.test_client().post(
        "/fields/v1/tokens", headers={"Sec-Fetch-Site": "same-origin"},
        json={"key": world.platform.config["SANDBOX_PUBLISHABLE_KEY"],
              "number": PAYMENT_METHOD_TOKENS[card], "expiry": "12/39", "cvc": "123"})
    return answer.get_json()["id"]


def _pay_in_fields(world, payment: Payment, card: str) -> str:
    from app.services.audit import Actor
    from app.services.checkout import card_fields

    token = sandbox_token(world, card)
    buyer_id, order_id = payment.order.buyer_id, payment.order_id
    actor = Actor("buyer@sim.example", "127.0.0.1", user_id=buyer_id)
    with world.platform.test_request_context():
        outcome = card_fields.pay(order_id, buyer_id, token, actor)
    return (f"buyer pays payment {payment.id} in card fields with {card}: {outcome.kind}"
            + (f" ({outcome.message})" if outcome.message else ""))
