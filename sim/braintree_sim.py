"""Braintree in the simulation: the in-repo gateway fake (tests/fakes/braintree) behind the
real adapter and the official SDK, in this process, on the run's clock, ids and fault plan.

- transport: the SDK's `Http` sessions get an adapter that hands each call to the fake's WSGI
  app; a write (sale, credit, capture, void, refund) draws its fault from the run's FaultPlan
  and arms the fake's own hook (`fail_next`) for exactly that call ("timeout_after": executed,
  then the SDK's read timeout). Braintree has no idempotency keys: the adapter's once-only
  reference is the `order_id` it puts on each sale and credit (looked up before a retry), so
  `psp_executions` reads the fake's executed writes per order_id;
- the buyer: the Drop-in (embedded) and Hosted Fields (fields) tokenize the card into a nonce
  (the fake's `issue_nonce`, what its tokenize routes do); the Drop-in's nonce makes the sale
  through services/checkout/nonces, Hosted Fields' through card_fields.pay, as the pages post;
- not here yet: Braintree's disputes and their webhooks (a dispute card pays as a Visa).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import requests

from sim.transport import WSGIAdapter

BASE = "http://braintree.sim"
# The fake's test cards for our test card names (no 3-D Secure or disputes at this fake yet).
CARDS = {"4242424242424242": "fake-valid-visa-nonce",
         "4000000000000002": "fake-processor-declined-visa-nonce",
         "4000002760003184": "fake-valid-visa-nonce",
         "4000000000000259": "fake-valid-visa-nonce"}
REFUSED = ("processor_declined", "gateway_rejected", "failed")
WRITES = re.compile(r"/transactions(/\w+/(submit_for_settlement|void|refund))?$")


class FaultingAdapter(WSGIAdapter):
    """The fake's WSGI app as the SDK's HTTP, with the run's API faults on writes."""

    def __init__(self, app, gateway, plan):
        super().__init__(app)
        self.gateway, self.plan = gateway, plan

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        path = requests.utils.urlparse(request.url).path
        # The SDK sends some header values as bytes (Authorization); a socket takes them as
        # they are, the WSGI test client wants text.
        for name, value in list(request.headers.items()):
            if isinstance(value, bytes):
                request.headers[name] = value.decode("latin-1")
        drawn = None
        plan = self.plan()
        if plan is not None and request.method in ("POST", "PUT") and WRITES.search(path):
            drawn = plan.api("POST", path)
        if drawn is not None:
            self.gateway.fail_next(drawn["fault"])
        response = super().send(request, stream, timeout, verify, cert, proxies)
        if drawn is not None and drawn["fault"] == "timeout_after":
            raise requests.ReadTimeout("Read timed out (simulated)", request=request)
        return response


@dataclass
class BraintreeSim:
    """One fake gateway for a world's whole life; `reset()` empties it between seeds."""

    world: object
    gateway: object = None
    app: object = None
    _undo: list = field(default_factory=list)

    def __post_init__(self):
        from tests.fakes.braintree import Gateway, create_app
        from tests.fakes.braintree.wiring import MERCHANT_ID, PRIVATE_KEY, PUBLIC_KEY

        self.gateway = Gateway(MERCHANT_ID, PUBLIC_KEY, PRIVATE_KEY, timeout_seconds=0)
        self.app = create_app(self.gateway)

    def attach(self, platform, plan) -> None:
        from braintree.util.http import Http

        from tests.fakes.braintree import gateway as api
        from tests.fakes.braintree import state
        from tests.fakes.braintree.wiring import forget, settings

        wanted = settings(BASE)
        saved = {name: platform.config.get(name) for name in wanted}
        platform.config.update(wanted)
        forget(platform)
        session = requests.Session()
        adapter = FaultingAdapter(self.app, self.gateway, plan)
        for prefix in (BASE + "/", BASE + ":80/"):  # the SDK names the port in its URLs
            session.mount(prefix, adapter)
        real_session, real_now = Http._get_session, state.utc_now
        Http._get_session = lambda http: session

        def now():
            return datetime.fromtimestamp(self.world.clock(), UTC).replace(tzinfo=None)

        state.utc_now = api.utc_now = now

        def undo():
            Http._get_session = real_session
            state.utc_now = api.utc_now = real_now
            platform.config.update(saved)
            forget(platform)
        self._undo = [undo]

    def detach(self) -> None:
        for undo in self._undo:
            undo()
        self._undo = []

    def reset(self) -> None:
        g = self.gateway
        for name in ("transactions", "nonces", "disputes", "vault", "executions"):
            getattr(g, name).clear()
        g.used_nonces.clear()
        g.fingerprints.clear()
        g.faults.clear()

    def pay(self, payment, number: str) -> str:
        """The buyer's card → a nonce → our server makes the sale, as the page posts it."""
        from app.services.audit import Actor
        from app.services.checkout import card_fields, nonces

        nonce = self.gateway.issue_nonce(CARDS.get(number, "fake-valid-visa-nonce"))
        buyer_id, order_id = payment.order.buyer_id, payment.order_id
        actor = Actor("buyer@sim.example", "127.0.0.1", user_id=buyer_id)
        with self.world.platform.test_request_context():
            if payment.integration_mode == "fields":
                outcome = card_fields.pay(order_id, buyer_id, nonce, actor)
                return f"Hosted Fields: {outcome.kind}"
            nonces.pay_with_nonce(order_id, buyer_id, nonce, actor)
        return "Drop-in: nonce submitted"

    def twice(self) -> list[str]:
        """Once-only references that moved money more than once. A declined attempt shares
        its order_id with the card tried next (the adapter's design: it looks the order_id up
        and prefers the sale that went through), so a sale or credit counts when it was not
        refused; captures and voids count per transaction."""
        moved: Counter = Counter(txn["order_id"] for txn in self.gateway.transactions.values()
                                 if txn["status"] not in REFUSED and txn["order_id"])
        moved.update({key: count for key, count in self.gateway.executions.items()
                      if key.startswith(("capture:", "void:"))})
        return [f"Braintree {key} executed {count}×" for key, count in sorted(moved.items())
                if count != 1]

    def money(self, reference: str) -> tuple[int, int]:
        """Captured and refunded (minor units) of a sale at the fake."""
        txn = self.gateway.transactions.get(reference)
        if txn is None or txn["status"] not in ("submitted_for_settlement", "settling",
                                                "settled"):
            return 0, 0
        cents = Decimal(100)
        return (int(Decimal(txn["amount"]) * cents),
                int(self.gateway.refunded_total(txn) * cents))
