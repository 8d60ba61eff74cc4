"""Stripe in the simulation: the in-repo fake (tests/fakes/stripe) behind the real adapter and
the official SDK, in this process, on the run's clock, ids and fault plan.

- transport: the SDK's requests session gets an adapter that hands each call to the fake's
  WSGI app (no socket, no thread); a keyed POST draws its fault from the run's FaultPlan and
  arms the fake's own fault hook (`fail_next`) for exactly that call; "timeout_after" answers
  after executing and the caller gets its own read timeout, as with the sandbox;
- clock and ids: the fake's modules read `time` (SimTime) and `secrets` (seeded by the world);
- webhooks: the fake keeps its events (no URL); `deliver()` posts them to /webhooks/stripe,
  signed at the run's time, each dropped, failed (retried later, so late and out of order),
  duplicated or delivered as the plan says, each batch shuffled;
- the buyer: Checkout's hosted page, the Payment Element and the split Card Element, through
  the same helpers the fake's pages use (tests/fakes/stripe/controls, card_fields).
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field

import requests

from sim.seams import SimTime
from sim.transport import WSGIAdapter
from tests.fakes.stripe.element import CONFIRMABLE

API_KEY = "sk_test_sim_stripe"
PUBLISHABLE_KEY = "pk_test_sim_stripe"
WEBHOOK_SECRET = "whsec_sim_stripe"
BASE = "http://stripe.sim"
TIMED = ("state", "checkout", "connect", "controls", "disputes", "element", "payments")
RETRY_BASE = 30  # seconds: Stripe retries a failed delivery with growing backoff


class FaultingAdapter(WSGIAdapter):
    """The fake's WSGI app as the SDK's HTTP, with the run's API faults."""

    def __init__(self, app, fake, plan):
        super().__init__(app)
        self.fake, self.plan = fake, plan

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        path = requests.utils.urlparse(request.url).path
        drawn = None
        plan = self.plan()
        if plan is not None and request.method == "POST" \
                and request.headers.get("Idempotency-Key"):
            drawn = plan.api("POST", path)
        if drawn is not None:
            self.fake.fail_next(drawn["fault"])
        response = super().send(request, stream, timeout, verify, cert, proxies)
        if drawn is not None and drawn["fault"] == "timeout_after":
            raise requests.ReadTimeout("Read timed out (simulated)", request=request)
        return response


@dataclass
class StripeSim:
    """One fake Stripe for a world's whole life; `reset()` empties it between seeds."""

    world: object
    fake: object = None
    app: object = None
    cursor: int = 0
    pending: list = field(default_factory=list)   # [due, attempts, event]
    _undo: list = field(default_factory=list)

    def __post_init__(self):
        from tests.fakes.stripe import FakeStripe, create_app

        self.fake = FakeStripe(api_key=API_KEY, publishable_key=PUBLISHABLE_KEY,
                               webhook_secret=WEBHOOK_SECRET, public_url=BASE, timeout_sleep=0)
        self.app = create_app(self.fake)

    # --- seams ---------------------------------------------------------------------------
    def attach(self, platform, plan) -> None:
        """Configure the platform for the fake and mount the transport on the adapter."""
        from app.providers.registry import get_provider

        settings = {"STRIPE_SECRET_KEY": API_KEY, "STRIPE_API_BASE": BASE,
                    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                    "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY, "STRIPE_JS_URL": f"{BASE}/v3/",
                    "STRIPE_CHECKOUT_URL": BASE}
        saved = {name: platform.config.get(name) for name in settings}
        platform.config.update(settings)
        _forget(platform)
        modules = [importlib.import_module(f"tests.fakes.stripe.{n}") for n in TIMED]
        for module in modules:
            module.time = SimTime(self.world.clock)
        guarded = get_provider("stripe")
        http = guarded.inner._client._requestor._client
        session = requests.Session()
        session.mount(BASE + "/", FaultingAdapter(self.app, self.fake, plan))
        http._session, http._thread_local.session = session, None
        self._undo = [(platform, saved, modules)]

    def detach(self) -> None:
        import time

        for platform, saved, modules in self._undo:
            platform.config.update(saved)
            _forget(platform)
            for module in modules:
                module.time = time
        self._undo = []

    def reset(self) -> None:
        for name in ("objects", "extras", "idempotency", "events", "deliveries", "calls"):
            getattr(self.fake, name).clear()
        self.fake.faults.clear()
        self.cursor, self.pending = 0, []

    # --- webhooks ------------------------------------------------------------------------
    def deliver(self, plan) -> int:
        """Send what is due at the run's time; the attempts made."""
        from tests.fakes.stripe import sign

        now = self.world.clock()
        for event in self.fake.events[self.cursor:]:
            self.pending.append([now, 0, event])
        self.cursor = len(self.fake.events)
        due = [entry for entry in self.pending if entry[0] <= now]
        if plan is not None:
            due = plan.order(due)
        client = self.world.platform.test_client()
        for entry in due:
            self.pending.remove(entry)
            fate = plan.webhook(entry[2]["type"]) if plan is not None else "deliver"
            if fate == "drop":
                continue
            status = 503
            if fate != "fail":
                raw = json.dumps(entry[2]).encode()
                for _ in range(2 if fate == "duplicate" else 1):
                    status = client.post("/webhooks/stripe", data=raw, headers={
                        "Content-Type": "application/json",
                        "Stripe-Signature": sign(WEBHOOK_SECRET, raw, int(now))}).status_code
            if status >= 300 and entry[1] < 8:
                entry[0], entry[1] = now + RETRY_BASE * 2 ** entry[1], entry[1] + 1
                self.pending.append(entry)
        return len(due)

    def quiet(self) -> bool:
        return not self.pending and self.cursor == len(self.fake.events)

    # --- the buyer -----------------------------------------------------------------------
    def pay(self, payment, number: str, passed: bool) -> str:
        """The buyer pays in the mode of `payment` with card `number`; 3-D Secure is passed or
        failed there and then (`passed`)."""
        from tests.fakes.stripe import controls

        reference = payment.psp_reference
        if payment.integration_mode == "fields":
            return self._pay_in_fields(payment, number, passed)
        # The pages' own guards (the helpers below skip them): Checkout takes a card only
        # while its session is open, the Payment Element only while its intent wants one.
        # Without them a buyer "paid again" an authorized session and turned it failed.
        if reference.startswith("cs_"):
            status = self.fake.objects[reference]["status"]
            if status != "open":
                return f"hosted Checkout: the page says the session is {status}"
            outcome = controls.pay_session(self.fake, reference, number, passed)
            return f"hosted Checkout: {outcome or 'authorized'}"
        status = self.fake.objects[reference]["status"]
        if status not in CONFIRMABLE:
            return f"Payment Element: the payment is {status}"
        answer = controls.confirm_element(self.fake, reference, number,
                                          return_url="http://holdfast.sim/return",
                                          challenge_passed=passed)
        return "Payment Element: " + ("error " + answer["error"].get("code", "")
                                      if "error" in answer else "redirected")

    def _pay_in_fields(self, payment, number: str, passed: bool) -> str:
        from app.services.audit import Actor
        from app.services.checkout import card_fields
        from tests.fakes.stripe.element import settle_challenge

        made = self.app.test_client().post("/elements/payment_methods", json={
            "key": PUBLISHABLE_KEY, "number": number, "expiry": "12/39", "cvc": "123"})
        token = made.get_json()["id"]
        buyer_id, order_id = payment.order.buyer_id, payment.order_id
        actor = Actor("buyer@sim.example", "127.0.0.1", user_id=buyer_id)
        with self.world.platform.test_request_context():
            outcome = card_fields.pay(order_id, buyer_id, token, actor)
        what = f"Card Element: {outcome.kind}"
        intent = self.fake.objects.get(payment.psp_reference)
        if outcome.kind == "action" and intent and intent["status"] == "requires_action":
            with self.fake.lock:
                settle_challenge(self.fake, intent, passed)
            what += f", 3-D Secure {'passed' if passed else 'failed'}"
        return what

    def open_disputes(self) -> list[str]:
        return sorted(d["id"] for d in self.fake.of_kind("dispute")
                      if d["status"] in ("needs_response", "under_review"))

    def close_dispute(self, rng) -> str:
        """The issuer decides an open chargeback at Stripe, won or lost."""
        from tests.fakes.stripe import controls

        reference = rng.choice(self.open_disputes())
        outcome = rng.choice(["won", "lost"])
        controls.close(self.fake, reference, outcome)
        return f"Stripe dispute {reference} closed {outcome}"


def _forget(app) -> None:
    for cache in ("holdfast_providers", "holdfast_unconfigured"):
        app.extensions.get(cache, {}).pop("stripe", None)
