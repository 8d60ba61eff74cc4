"""The contract suite's harness for Stripe: the adapter, through the official SDK, against the
in-repo fake Stripe. The buyer's part is the fake's hosted Checkout page (played here by the
same code its form posts to); the bank's part is the fake's dispute controls."""
from __future__ import annotations

import copy
import json
import time
import uuid

from app.providers.base import PaymentProvider, ProviderPayment, SessionRequest
from app.providers.stripe import from_config
from tests.fakes.stripe import FakeStripe, create_app, sign
from tests.fakes.stripe.controls import close, dispute, pay_session
from tests.providers.contract.harness import HELD_BACK, PATIENT_TIMEOUT, QUICK_TIMEOUT

API_KEY = "sk_test_contract_suite"
WEBHOOK_SECRET = "whsec_contract_suite"
# Neutral event names some suites use → Stripe event types.
TYPES = {"payment.authorized": "checkout.session.completed",
         "payment.captured": "payment_intent.succeeded",
         "payment.failed": "payment_intent.payment_failed",
         "refund.succeeded": "refund.updated",
         "dispute.created": "charge.dispute.created",
         "dispute.won": "charge.dispute.closed", "dispute.lost": "charge.dispute.closed"}


class StripeHarness:
    """ContractHarness for Stripe (see harness.py)."""

    name = "stripe"
    supports_partial_capture = True
    supports_hosted = True
    supports_embedded = True     # the Payment Element (tests/providers/stripe/test_stripe_embedded.py)

    def __init__(self, serve, timeout: float = PATIENT_TIMEOUT):
        """`serve`: WSGI app → base URL (the suite's serve_wsgi fixture)."""
        # A "timeout_after" fault answers only after the impatient adapter has given up.
        self.fake = FakeStripe(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET,
                               timeout_sleep=HELD_BACK)
        self.fake.public_url = serve(create_app(self.fake))
        self._adapter, self._impatient = (from_config({
            "STRIPE_SECRET_KEY": API_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": self.fake.public_url, "PSP_TIMEOUT_SECONDS": seconds,
            "WEBHOOK_TOLERANCE_SECONDS": 300}) for seconds in (timeout, QUICK_TIMEOUT))

    def provider(self) -> PaymentProvider:
        return self._adapter

    def impatient_provider(self) -> PaymentProvider:
        return self._impatient

    def authorized_payment(self, amount: int, currency: str,
                           card: str = "4242424242424242") -> ProviderPayment:
        reference = f"hf_{uuid.uuid4().hex}"
        started = self._adapter.create_session(SessionRequest(
            reference=reference, amount=amount, currency=currency, mode="hosted",
            return_url="http://127.0.0.1/return", cancel_url="http://127.0.0.1/cancel",
            parent_origin="http://127.0.0.1", idempotency_key=reference))
        pay_session(self.fake, started.reference, card.replace(" ", ""))
        return self._adapter.retrieve(started.reference)

    def open_dispute(self, payment_reference: str) -> str:
        intent = payment_reference
        if not payment_reference.startswith("pi_"):
            intent = self.fake.objects[payment_reference]["payment_intent"]
        return dispute(self.fake, intent)

    def close_dispute(self, dispute_reference: str, outcome: str) -> None:
        close(self.fake, dispute_reference, outcome)

    def signed_webhook(self, event_type: str, object_id: str) -> tuple[bytes, dict]:
        stripe_type = TYPES.get(event_type, event_type)
        obj = copy.deepcopy(self.fake.objects.get(object_id) or {"id": object_id})
        event = {"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event",
                 "api_version": "2025-01-27", "created": int(time.time()), "livemode": False,
                 "type": stripe_type, "data": {"object": obj}, "pending_webhooks": 1,
                 "request": {"id": None, "idempotency_key": None}}
        raw = json.dumps(event).encode()
        return raw, {"Stripe-Signature": sign(WEBHOOK_SECRET, raw, int(time.time())),
                     "Content-Type": "application/json"}

    def executions(self, idempotency_key: str) -> int:
        return self.fake.executions(idempotency_key)

    def fail_next(self, fault: str) -> None:
        self.fake.fail_next(fault)
