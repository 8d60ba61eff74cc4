"""The Stripe adapter: Checkout Sessions (hosted) or PaymentIntents for the Payment Element
(embedded), with manual capture; refunds, disputes, Connect payouts.

Reference choice: a hosted payment's PSP reference is its Checkout Session id (cs_…), known as
soon as the session exists and stable for the payment's life. Stripe creates that session's
PaymentIntent only when the buyer confirms, so every call that needs it (capture, void, refund)
first reads the session to find it; retrieve() expands the PaymentIntent and its charge in one
GET. An embedded payment's reference is its PaymentIntent id (pi_…), created up front because
the Payment Element confirms it in the buyer's browser with its client_secret. So is a card
fields payment's ("fields": the split Card Element on our own page makes a PaymentMethod, and
authorize_token confirms the PaymentIntent with it from our server) and a saved card's
(authorize_saved: off-session with the card attached to its Customer; when the bank wants the
buyer, on-session, and the buyer goes through 3-D Secure).
"""
from __future__ import annotations

import hashlib
import json
import time

import stripe

from app.providers.base import (
    BrowserOrigins,
    CardFields,
    EventKind,
    PaymentProvider,
    ProviderDispute,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderPayout,
    ProviderRefund,
    SessionRequest,
    SettlementPage,
)
from app.providers.stripe import (
    confirmation,
    connect,
    errors,
    mapping,
    settlement,
    webhooks,
)
from app.providers.stripe.mapping import REFERENCE_KEY

PAYMENT_KEY = "holdfast_payment"     # on refunds: the payment's psp_reference (the session id)
REFUND_KEY = "holdfast_refund_key"   # on refunds: the idempotency key that created it
SESSION_EXPAND = ["payment_intent", "payment_intent.latest_charge",
                  "payment_intent.latest_charge.balance_transaction"]
INTENT_EXPAND = ["latest_charge", "latest_charge.balance_transaction"]
FIND_WINDOW_SECONDS = 2 * 86400
FIND_PAGE_SIZE = 100  # Stripe's largest page
# PaymentIntent statuses in which no money is held yet: cancel() may end these, nothing else.
UNPAID_INTENT_STATUSES = frozenset({"requires_payment_method", "requires_confirmation",
                                    "requires_action"})
# Stripe's own browser origins. Beyond stripe.js's origin, its documented CSP needs its API
# (connect-src) and the 3-D Secure pages (frame-src); the offline stand-in needs neither.
CHECKOUT_URL = "https://checkout.stripe.com"
JS_URL = "https://js.stripe.com/v3/"
JS_ORIGIN = "https://js.stripe.com"
API_ORIGINS = ("https://api.stripe.com",)
FRAME_ORIGINS = ("https://hooks.stripe.com",)


class StripeProvider(PaymentProvider):
    """Stripe through the official SDK; retries are the resilience layer's job, not the SDK's."""

    name = "stripe"

    def __init__(self, secret_key: str, webhook_secrets: list[str], api_base: str | None = None,
                 timeout: float = 10.0, webhook_tolerance: int = 300,
                 dispute_fee_returned_if_won: bool = True, checkout_url: str | None = None,
                 js_url: str | None = None, publishable_key: str = ""):
        # Where the buyer's browser goes: hosted Checkout, and stripe.js for the Payment Element.
        self.checkout_url = checkout_url or CHECKOUT_URL
        self.js_url = js_url or JS_URL
        self.publishable_key = publishable_key  # what stripe.js tokenizes with on our page
        self.webhook_secrets = webhook_secrets
        self.webhook_tolerance = webhook_tolerance
        self.dispute_fee_returned_if_won = dispute_fee_returned_if_won
        self._client = stripe.StripeClient(
            secret_key, base_addresses={"api": api_base or stripe.DEFAULT_API_BASE},
            max_network_retries=0, http_client=stripe.RequestsClient(timeout=timeout))

    def __repr__(self) -> str:  # never the key
        return "StripeProvider()"

    # --- payments -----------------------------------------------------------------------
    def browser_origins(self) -> BrowserOrigins:
        real = BrowserOrigins.of(scripts=[self.js_url]).scripts == (JS_ORIGIN,)
        return BrowserOrigins.of(
            hosted=[self.checkout_url], scripts=[self.js_url],
            frames=[self.js_url, *(FRAME_ORIGINS if real else ())],
            connects=API_ORIGINS if real else ())

    def saves_cards(self) -> bool:
        # setup_future_usage with a Customer attaches the card (every mode); authorize_saved
        # pays with it off-session.
        return True

    def saved_card_mode(self) -> str:
        # A PaymentIntent our server confirms, like the card fields'.
        return "fields"

    def card_fields(self) -> CardFields | None:
        # Stripe.js is not versioned per file: it cannot carry an SRI pin (the inventory says
        # how its integrity is assured instead). Without a publishable key: no card fields.
        if not self.publishable_key.startswith("pk_"):
            return None
        return CardFields(self.js_url, self.publishable_key, library="stripe")

    def create_session(self, request: SessionRequest) -> ProviderPayment:
        if request.mode in ("embedded", "fields"):
            return self._create_intent(request)
        if request.mode != "hosted":
            raise ProviderError(f"Stripe has no {request.mode!r} mode",
                                code="mode_unsupported", executed=False)
        intent_data = {"capture_method": request.capture_method,
                       "metadata": {REFERENCE_KEY: request.reference}}
        if request.save_payment_method:
            intent_data["setup_future_usage"] = "off_session"
        # No expires_at: a retry with the same key must send identical parameters, and a
        # clock-derived expiry would not be; the platform expires the session itself.
        params = {
            "mode": "payment",
            "client_reference_id": request.reference,
            "line_items": [{"quantity": 1, "price_data": {
                "currency": mapping.to_psp_currency(request.currency),
                "unit_amount": request.amount,
                "product_data": {"name": f"Holdfast order payment {request.reference}"}}}],
            "payment_intent_data": intent_data,
            "metadata": {REFERENCE_KEY: request.reference},
            "success_url": request.return_url,
            "cancel_url": request.cancel_url,
        }
        if request.save_payment_method:  # the Customer the saved card is attached to
            params["customer_creation"] = "always"
        if request.request_three_d_secure:  # fraud screening asked for it whatever the card
            params["payment_method_options"] = {"card": {"request_three_d_secure": "any"}}
        session = self._call(self._client.v1.checkout.sessions.create, params,
                             key=request.idempotency_key)
        return mapping.to_provider_payment(session, None)

    def _create_intent(self, request: SessionRequest) -> ProviderPayment:
        """A PaymentIntent for the Payment Element (the buyer confirms it in stripe.js with its
        client_secret, in the returned ProviderPayment only, never stored by the platform) or
        for card fields and saved cards (our server confirms it; 3-D Secure returns the buyer
        to the return_url kept in its metadata)."""
        metadata = {REFERENCE_KEY: request.reference}
        if request.mode == "fields":
            metadata[confirmation.RETURN_KEY] = request.return_url
        params = {"amount": request.amount,
                  "currency": mapping.to_psp_currency(request.currency),
                  "capture_method": request.capture_method,
                  "payment_method_types": ["card"],
                  "metadata": metadata}
        if request.save_payment_method:
            # The card is attached to this Customer once the payment succeeds.
            customer = self._call(self._client.v1.customers.create,
                                  {"metadata": {REFERENCE_KEY: request.reference}},
                                  key=f"{request.idempotency_key}-customer")
            params["setup_future_usage"] = "off_session"
            params["customer"] = customer["id"]
        if request.request_three_d_secure:
            params["payment_method_options"] = {"card": {"request_three_d_secure": "any"}}
        intent = self._call(self._client.v1.payment_intents.create, params,
                            key=request.idempotency_key)
        return mapping.to_provider_payment(None, intent)

    def retrieve(self, reference: str) -> ProviderPayment:
        if reference.startswith("pi_"):
            intent = self._call(self._client.v1.payment_intents.retrieve, reference,
                                {"expand": INTENT_EXPAND})
            return mapping.to_provider_payment(None, intent)
        session = self._call(self._client.v1.checkout.sessions.retrieve, reference,
                             {"expand": SESSION_EXPAND})
        return mapping.to_provider_payment(session, session.get("payment_intent"))

    def find_by_reference(self, our_reference: str) -> ProviderPayment | None:
        # Stripe cannot filter sessions by client_reference_id: page through the recent ones.
        since = int(time.time()) - FIND_WINDOW_SECONDS
        params = {"limit": FIND_PAGE_SIZE, "created": {"gte": since}}
        while True:
            page = self._call(self._client.v1.checkout.sessions.list, params)
            for session in page["data"]:
                if session.get("client_reference_id") == our_reference:
                    return self.retrieve(session["id"])
            if not page.get("has_more") or not page["data"]:
                break
            params = {**params, "starting_after": page["data"][-1]["id"]}
        # No session: an embedded payment's PaymentIntent carries our reference in metadata.
        params = {"limit": FIND_PAGE_SIZE, "created": {"gte": since}}
        while True:
            page = self._call(self._client.v1.payment_intents.list, params)
            for intent in page["data"]:
                if (intent.get("metadata") or {}).get(REFERENCE_KEY) == our_reference:
                    return self.retrieve(intent["id"])
            if not page.get("has_more") or not page["data"]:
                return None
            params = {**params, "starting_after": page["data"][-1]["id"]}

    def authorize_token(self, reference: str, token: str,
                        idempotency_key: str) -> ProviderPayment:
        """Confirm the fields payment's PaymentIntent with the PaymentMethod (pm_…) stripe.js
        made on our page (confirmation.py)."""
        return confirmation.with_payment_method(self, reference, token, idempotency_key)

    def authorize_saved(self, reference: str, token: str, idempotency_key: str) -> ProviderPayment:
        """Pay the PaymentIntent with a card saved on its Customer, off-session, or on-session
        when the bank wants the buyer (confirmation.py)."""
        return confirmation.with_saved_card(self, reference, token, idempotency_key)

    def cancel(self, reference: str, idempotency_key: str) -> ProviderPayment:
        if reference.startswith("pi_"):
            return self._cancel_unpaid_intent(reference, idempotency_key)
        session = self._call(self._client.v1.checkout.sessions.expire, reference,
                             {"expand": SESSION_EXPAND}, key=idempotency_key)
        return mapping.to_provider_payment(session, session.get("payment_intent"))

    def capture(self, reference: str, amount: int, idempotency_key: str) -> ProviderPayment:
        session, intent = self._intent_of(reference)
        if intent["status"] == "succeeded" and intent.get("amount_received") == amount:
            # Already captured for this amount: Stripe replays a lost answer's 500 to a retry
            # with the same key, so the state is the answer (a second capture is impossible).
            return mapping.to_provider_payment(session, intent)
        intent = self._call(self._client.v1.payment_intents.capture, intent["id"],
                            {"amount_to_capture": amount, "expand": INTENT_EXPAND},
                            key=idempotency_key)
        return mapping.to_provider_payment(session, intent)

    def void(self, reference: str, idempotency_key: str) -> ProviderPayment:
        session, intent = self._intent_of(reference)
        if intent["status"] == "canceled":  # already released (see capture)
            return mapping.to_provider_payment(session, intent)
        intent = self._call(self._client.v1.payment_intents.cancel, intent["id"],
                            {"cancellation_reason": "requested_by_customer",
                             "expand": INTENT_EXPAND}, key=idempotency_key)
        return mapping.to_provider_payment(session, intent)

    def _cancel_unpaid_intent(self, reference: str, idempotency_key: str) -> ProviderPayment:
        # Cancelling a requires_capture PaymentIntent would void it, which cancel() must never
        # do: an authorized (or settled) intent is answered as it stands.
        intent = self._call(self._client.v1.payment_intents.retrieve, reference,
                            {"expand": INTENT_EXPAND})
        if intent["status"] in UNPAID_INTENT_STATUSES:
            # "abandoned", as Stripe's own expiry says: the platform reads it as EXPIRED.
            intent = self._call(self._client.v1.payment_intents.cancel, reference,
                                {"cancellation_reason": "abandoned", "expand": INTENT_EXPAND},
                                key=idempotency_key)
        return mapping.to_provider_payment(None, intent)

    # --- refunds and disputes ------------------------------------------------------------
    def refund(self, reference: str, amount: int, idempotency_key: str,
               metadata: dict | None = None) -> ProviderRefund:
        _, intent = self._intent_of(reference)
        # A refund whose answer was lost is found by our key: Stripe would replay a 500.
        earlier = self._call(self._client.v1.refunds.list,
                             {"payment_intent": intent["id"], "limit": 100})
        for refund in earlier["data"]:
            if (refund.get("metadata") or {}).get(REFUND_KEY) == idempotency_key:
                if refund["amount"] != amount:  # as Stripe answers a key reused differently
                    raise ProviderError("this idempotency key refunded another amount",
                                        code="idempotency_error", executed=None)
                return mapping.to_provider_refund(refund, reference)
        params = {"payment_intent": intent["id"], "amount": amount,
                  "metadata": {**{k: str(v) for k, v in (metadata or {}).items()},
                               PAYMENT_KEY: reference, REFUND_KEY: idempotency_key}}
        refund = self._call(self._client.v1.refunds.create, params, key=idempotency_key)
        return mapping.to_provider_refund(refund, reference)

    def retrieve_refund(self, reference: str) -> ProviderRefund:
        refund = self._call(self._client.v1.refunds.retrieve, reference)
        payment = (refund.get("metadata") or {}).get(PAYMENT_KEY) \
            or self._payment_reference(refund.get("payment_intent"))
        return mapping.to_provider_refund(refund, payment)

    def retrieve_dispute(self, reference: str) -> ProviderDispute:
        dispute = self._call(self._client.v1.disputes.retrieve, reference)
        return mapping.to_provider_dispute(
            dispute, self._payment_reference(dispute.get("payment_intent")),
            self.dispute_fee_returned_if_won)

    def submit_dispute_evidence(self, reference: str, evidence: dict[str, str],
                                submit: bool = True) -> ProviderDispute:
        params = {"evidence": dict(evidence), "submit": submit}
        # The contract gives no key: the same evidence for the same dispute is the same request.
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:32]
        dispute = self._call(self._client.v1.disputes.update, reference, params,
                             key=f"hf-evidence-{reference}-{digest}")
        return mapping.to_provider_dispute(
            dispute, self._payment_reference(dispute.get("payment_intent")),
            self.dispute_fee_returned_if_won)

    # --- payouts (Connect) ---------------------------------------------------------------
    def create_payout(self, amount: int, currency: str, destination: dict, holder_name: str,
                      idempotency_key: str) -> ProviderPayout:
        return connect.transfer(self, amount, currency, destination, idempotency_key)

    # Connect calls outside the contract, for the clawback and seller-account services (they
    # reach the adapter through the registry, never this package's modules).
    def reverse_transfer(self, transfer_reference: str, amount: int,
                         idempotency_key: str) -> connect.TransferReversal:
        """Claw back `amount` of a transfer, exactly once per idempotency key."""
        return connect.reverse_transfer(self, transfer_reference, amount, idempotency_key)

    def find_reversal(self, transfer_reference: str,
                      idempotency_key: str) -> connect.TransferReversal | None:
        """The reversal of this transfer made with our key, if Stripe has one. Read-only."""
        return connect.find_reversal(self, transfer_reference, idempotency_key)

    def retrieve_account(self, account_id: str) -> connect.ConnectedAccount:
        """A seller's connected account (ProviderError 404 when Stripe has none). Read-only."""
        return connect.retrieve_account(self, account_id)

    def settlement_page(self, day: str, cursor: str | None) -> SettlementPage:
        return settlement.fetch_page(self, day, cursor)

    def payout_settlement_page(self, payout: str, cursor: str | None) -> SettlementPage:
        """The balance transactions one Stripe payout swept (outside the contract)."""
        return settlement.fetch_payout(self, payout, cursor)

    def retrieve_payout(self, reference: str) -> ProviderPayout:
        return connect.retrieve(self, reference)

    def fund(self, amount: int, currency: str, idempotency_key: str) -> str:
        """Top the platform's balance up from the treasury, once per key; the top-up's id."""
        return connect.fund(self, amount, currency, idempotency_key)

    # --- webhooks -----------------------------------------------------------------------
    def stored_event(self, event_id: str, event_type: str, object_id: str | None,
                     payload: dict) -> ProviderEvent:
        return mapping.to_event(event_id, event_type, object_id, payload)

    def event_kind(self, event_type: str) -> EventKind:
        return mapping.event_kind(event_type)

    def parse_webhook(self, raw_body: bytes, headers) -> ProviderEvent:
        return webhooks.parse(raw_body, headers, self.webhook_secrets, self.webhook_tolerance)

    # --- plumbing -----------------------------------------------------------------------
    def _intent_of(self, reference: str) -> tuple[dict | None, dict]:
        """The session (when the reference is one) and its PaymentIntent, charge expanded."""
        if reference.startswith("pi_"):
            return None, self._call(self._client.v1.payment_intents.retrieve, reference,
                                    {"expand": INTENT_EXPAND})
        session = self._call(self._client.v1.checkout.sessions.retrieve, reference,
                             {"expand": SESSION_EXPAND})
        if not session.get("payment_intent"):
            raise ProviderError("the buyer has not paid on this Checkout Session yet",
                                code="payment_intent_missing", executed=False)
        return session, session["payment_intent"]

    def _payment_reference(self, intent_id: str | None) -> str:
        """The platform's psp_reference for a PaymentIntent: its Checkout Session's id."""
        if not intent_id:
            return ""
        page = self._call(self._client.v1.checkout.sessions.list,
                          {"payment_intent": intent_id, "limit": 1})
        return page["data"][0]["id"] if page["data"] else intent_id

    def _call(self, method, *args, key: str | None = None, account: str | None = None) -> dict:
        """One SDK call as a plain dict; SDK errors become ProviderError. `account`: act as
        that connected account (the Stripe-Account header), e.g. for its payouts."""
        options = {name: value for name, value in (("idempotency_key", key),
                                                   ("stripe_account", account)) if value}
        try:
            result = method(*args, options=options) if options else method(*args)
        except stripe.StripeError as exc:
            raise errors.translate(exc) from None
        return result.to_dict()
