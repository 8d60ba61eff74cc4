"""The contract suite's harness for the sandbox PSP: the adapter against a sandbox of its own
(own database, served on loopback). The buyer's part is the API's authorize call the PSP's page
makes; the bank's part is the sandbox's own dispute functions and close helper; faults come
from its test helper (POST /v1/test_helpers/faults)."""
from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path

import requests

from app.providers.base import PaymentProvider, ProviderPayment, SessionRequest
from app.providers.sandbox import SandboxProvider
from app.providers.sandbox.webhooks import HEADER, sign
from tests.providers.contract.harness import HELD_BACK, PATIENT_TIMEOUT, QUICK_TIMEOUT

API_KEY = "sk_test_contract_sandbox"
WEBHOOK_SECRET = "whsec_contract_sandbox"
# Neutral event names → the sandbox's event types.
TYPES = {"payment.authorized": "payment_session.authorized",
         "payment.captured": "payment_session.captured",
         "payment.failed": "payment_session.payment_failed",
         "refund.succeeded": "refund.succeeded",
         "dispute.created": "dispute.created", "dispute.won": "dispute.closed",
         "dispute.lost": "dispute.closed"}
# Test card numbers → the sandbox's pm_card_* tokens (what its payment page would send).
TOKENS = {"4242424242424242": "pm_card_visa", "4000000000000002": "pm_card_chargeDeclined",
          "4000000000000259": "pm_card_createDispute"}


class SandboxHarness:
    """ContractHarness for the sandbox PSP (see harness.py)."""

    name = "sandbox"
    supports_partial_capture = True
    supports_hosted = True
    supports_embedded = True

    def __init__(self, serve, timeout: float = PATIENT_TIMEOUT):
        """`serve`: WSGI app → base URL (the suite's serve_wsgi fixture)."""
        import sandbox_psp

        folder = Path(tempfile.mkdtemp(prefix="contract-sandbox-"))
        self.psp = sandbox_psp.create_app({
            "TESTING": True, "SANDBOX_DATABASE_URL": f"sqlite:///{folder / 'psp.db'}",
            "SANDBOX_API_KEYS": API_KEY, "SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SANDBOX_FINGERPRINT_KEY": "contract-fingerprints", "SANDBOX_TEST_HELPERS": True})
        self.url = serve(self.psp)
        self._adapter = SandboxProvider(self.url, API_KEY, [WEBHOOK_SECRET], timeout=timeout)
        self._impatient = SandboxProvider(self.url, API_KEY, [WEBHOOK_SECRET],
                                          timeout=QUICK_TIMEOUT)

    def provider(self) -> PaymentProvider:
        return self._adapter

    def impatient_provider(self) -> PaymentProvider:
        return self._impatient

    def _api(self, method: str, path: str, body: dict | None = None) -> dict:
        answer = requests.request(method, self.url + path, json=body, timeout=10,
                                  headers={"Authorization": f"Bearer {API_KEY}"})
        answer.raise_for_status()
        return answer.json()

    def authorized_payment(self, amount: int, currency: str,
                           card: str = "4242424242424242") -> ProviderPayment:
        reference = f"hf_{uuid.uuid4().hex}"
        started = self._adapter.create_session(SessionRequest(
            reference=reference, amount=amount, currency=currency, mode="hosted",
            return_url="http://127.0.0.1/return", cancel_url="http://127.0.0.1/cancel",
            parent_origin="http://127.0.0.1", idempotency_key=reference))
        self._api("POST", f"/v1/payment_sessions/{started.reference}/authorize",
                  {"payment_method": TOKENS[card.replace(" ", "")]})
        return self._adapter.retrieve(started.reference)

    def open_dispute(self, payment_reference: str) -> str:
        from sandbox_psp import disputes, sessions
        from sandbox_psp.models import db

        with self.psp.app_context():  # as the card's issuer: no API exists for that
            existing, _ = disputes.find(payment_reference, 1)
            if existing:  # the dispute test card opened one on capture
                return existing[0].id
            dispute = disputes.open_for(sessions.get(payment_reference))
            db.session.commit()
            return dispute.id

    def close_dispute(self, dispute_reference: str, outcome: str) -> None:
        self._api("POST", f"/v1/test_helpers/disputes/{dispute_reference}/close",
                  {"outcome": outcome})

    def signed_webhook(self, event_type: str, object_id: str) -> tuple[bytes, dict]:
        kind = TYPES.get(event_type, event_type)
        recent = self._api("GET", "/v1/events?limit=100")["data"]
        event = next((e for e in recent if e["type"] == kind
                      and e["data"]["object"].get("id") == object_id), None)
        if event is None:
            event = {"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": kind,
                     "created": int(time.time()), "data": {"object": {"id": object_id}}}
        raw = json.dumps(event).encode()
        return raw, {HEADER: sign(WEBHOOK_SECRET, raw, int(time.time())),
                     "Content-Type": "application/json"}

    def executions(self, idempotency_key: str) -> int:
        return self._api("GET", "/v1/_stats")["executions"].get(idempotency_key, 0)

    def fail_next(self, fault: str) -> None:
        self._api("POST", "/v1/test_helpers/faults",
                  {"fault": fault, "method": "POST", "delay": HELD_BACK,
                   "retry_after": 0.1})
