"""HTTP calls to the sandbox PSP's JSON API (docs/sandbox-psp.md)."""
from __future__ import annotations

import json
import os

import requests

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
    ProviderTimeout,
    SessionRequest,
    SettlementPage,
)
from app.providers.sandbox import mapping, settlement, webhooks


class SandboxProvider(PaymentProvider):
    """The built-in sandbox PSP."""

    name = "sandbox"

    def __init__(self, api_url: str, api_key: str, webhook_secrets: list[str],
                 timeout: float = 10.0, webhook_tolerance: int = 300,
                 public_url: str | None = None, publishable_key: str = ""):
        self.api_url = api_url.rstrip("/")
        # Where the buyer's browser reaches this instance (its SANDBOX_PUBLIC_URL; behind a
        # proxy it differs from the API URL we call).
        self.public_url = (public_url or api_url).rstrip("/")
        self.webhook_secrets = webhook_secrets
        self.publishable_key = publishable_key
        self.timeout = timeout
        self.webhook_tolerance = webhook_tolerance
        self._http = _session_for(self.api_url)
        self._http.headers["Authorization"] = f"Bearer {api_key}"

    # --- the contract -------------------------------------------------------------------
    def browser_origins(self) -> BrowserOrigins:
        # The hosted page (/pay/…) and the embedded form (/embed/…) are both served here.
        return BrowserOrigins.of(hosted=[self.public_url], frames=[self.public_url])

    def saves_cards(self) -> bool:
        # setup_future_usage attaches a pm_… that authorize_saved pays with (3-D Secure too).
        return True

    def card_fields(self) -> CardFields | None:
        # v1 of the library is never changed in place, so our page pins its SRI hash.
        if not self.publishable_key:
            return None
        return CardFields(f"{self.public_url}/v1/js/fields.v1.js", self.publishable_key)

    def create_session(self, request: SessionRequest) -> ProviderPayment:
        body = {
            "amount": request.amount,
            "currency": mapping.to_psp_currency(request.currency),
            "mode": request.mode,
            "capture_method": request.capture_method,
            "return_url": request.return_url,
            "cancel_url": request.cancel_url,
            "client_reference_id": request.reference,
            "metadata": {"payment": request.reference},
            "expires_in": request.expires_in,
        }
        if request.mode == "embedded":
            body["parent_origin"] = request.parent_origin
        if request.save_payment_method:
            body["setup_future_usage"] = "off_session"
        if request.request_three_d_secure:
            body["request_three_d_secure"] = "any"
        return self._session("POST", "/v1/payment_sessions", body, request.idempotency_key)

    def retrieve(self, reference: str) -> ProviderPayment:
        return self._session("GET", f"/v1/payment_sessions/{reference}")

    def settlement_page(self, day: str, cursor: str | None) -> SettlementPage:
        return settlement.fetch_page(self._call, day, cursor)

    def find_by_reference(self, our_reference: str) -> ProviderPayment | None:
        listing = self._call("GET", "/v1/payment_sessions",
                             params={"client_reference_id": our_reference})
        sessions = listing.get("data") or []
        return mapping.to_provider_payment(sessions[0]) if sessions else None

    def authorize_saved(self, reference: str, token: str, idempotency_key: str) -> ProviderPayment:
        return self._session("POST", f"/v1/payment_sessions/{reference}/authorize",
                             {"payment_method": token}, idempotency_key)

    def authorize_token(self, reference: str, token: str, idempotency_key: str) -> ProviderPayment:
        # The same call as a saved card: the sandbox spends the tok_ once, on this session.
        return self._session("POST", f"/v1/payment_sessions/{reference}/authorize",
                             {"payment_method": token}, idempotency_key)

    def cancel(self, reference: str, idempotency_key: str) -> ProviderPayment:
        return self._session("POST", f"/v1/payment_sessions/{reference}/cancel", {},
                             idempotency_key)

    def capture(self, reference: str, amount: int, idempotency_key: str) -> ProviderPayment:
        return self._session("POST", f"/v1/payment_sessions/{reference}/capture",
                             {"amount": amount}, idempotency_key)

    def multicapture(self) -> bool:
        return True

    def capture_part(self, reference: str, amount: int, idempotency_key: str,
                     final: bool) -> ProviderPayment:
        return self._session("POST", f"/v1/payment_sessions/{reference}/capture",
                             {"amount": amount, "final_capture": final}, idempotency_key)

    def void(self, reference: str, idempotency_key: str) -> ProviderPayment:
        return self._session("POST", f"/v1/payment_sessions/{reference}/void", {},
                             idempotency_key)

    def create_payout(self, amount: int, currency: str, destination: dict, holder_name: str,
                      idempotency_key: str) -> ProviderPayout:
        body = {"amount": amount, "currency": mapping.to_psp_currency(currency),
                "destination": destination, "holder_name": holder_name,
                # Our key rides along: a webhook may arrive before we stored the PSP's id.
                "metadata": {mapping.PAYOUT_REFERENCE: idempotency_key}}
        return mapping.to_provider_payout(self._call("POST", "/v1/payouts", body,
                                                     idempotency_key))

    def retrieve_payout(self, reference: str) -> ProviderPayout:
        return mapping.to_provider_payout(self._call("GET", f"/v1/payouts/{reference}"))

    def sweep(self, amount: int, currency: str, idempotency_key: str) -> str:
        """Pay part of the platform's balance out to its own bank account (the treasury), once
        per key: a payout to the account on file, as Stripe pays its default external
        account; the payout's id, which the sandbox's report names. Moves no seller's money."""
        body = {"amount": amount, "currency": mapping.to_psp_currency(currency),
                "destination": "platform_account", "holder_name": "Holdfast treasury",
                "description": "Holdfast treasury sweep",
                "metadata": {"holdfast_funding": idempotency_key}}
        return self._call("POST", "/v1/payouts", body, idempotency_key)["id"]

    def convert(self, sell_amount: int, sell_currency: str, buy_amount: int, buy_currency: str,
                idempotency_key: str) -> str:
        """Convert part of the platform's balance at the PSP into another currency at the
        treasury's booked amounts, once per key; the conversion's id. Moves no seller's money."""
        body = {"sell_amount": sell_amount, "sell_currency": mapping.to_psp_currency(sell_currency),
                "buy_amount": buy_amount, "buy_currency": mapping.to_psp_currency(buy_currency),
                "description": "Holdfast treasury conversion"}
        return self._call("POST", "/v1/conversions", body, idempotency_key)["id"]

    def refund(self, reference: str, amount: int, idempotency_key: str,
               metadata: dict | None = None) -> ProviderRefund:
        body = {"payment_session": reference, "amount": amount, "metadata": metadata or {}}
        return mapping.to_provider_refund(self._call("POST", "/v1/refunds", body,
                                                     idempotency_key))

    def retrieve_refund(self, reference: str) -> ProviderRefund:
        return mapping.to_provider_refund(self._call("GET", f"/v1/refunds/{reference}"))

    def retrieve_dispute(self, reference: str) -> ProviderDispute:
        return mapping.to_provider_dispute(self._call("GET", f"/v1/disputes/{reference}"))

    def submit_dispute_evidence(self, reference: str, evidence: dict[str, str],
                                submit: bool = True) -> ProviderDispute:
        return mapping.to_provider_dispute(self._call(
            "POST", f"/v1/disputes/{reference}", {"evidence": evidence, "submit": submit}))

    def event_kind(self, event_type: str) -> EventKind:
        return mapping.event_kind(event_type)

    def stored_event(self, event_id: str, event_type: str, object_id: str | None,
                     payload: dict) -> ProviderEvent:
        return mapping.to_event(self.name, event_id, event_type, object_id, payload)

    def payment_in_event(self, payload: dict) -> ProviderPayment | None:
        # The sandbox's events carry the whole payment_session as it was then.
        return mapping.to_provider_payment(payload["data"]["object"])

    def parse_webhook(self, raw_body: bytes, headers) -> ProviderEvent:
        return webhooks.parse(raw_body, headers, self.webhook_secrets, self.webhook_tolerance)

    def recent_events(self, limit: int) -> list[tuple[ProviderEvent, bytes]]:
        # GET /v1/events pages newest first (Stripe's list shape).
        found: list[tuple[ProviderEvent, bytes]] = []
        after = None
        while len(found) < limit:
            params = {"limit": min(100, limit - len(found)),
                      **({"starting_after": after} if after else {})}
            page = self._call("GET", "/v1/events", params=params)
            found += [(mapping.to_event(self.name, event["id"], event["type"],
                                        event["data"]["object"].get("id"), event),
                       json.dumps(event).encode()) for event in page["data"]]
            if not page.get("has_more") or not page["data"]:
                break
            after = page["data"][-1]["id"]
        return found

    # --- HTTP ---------------------------------------------------------------------------
    def _session(self, method: str, path: str, body: dict | None = None,
                 idempotency_key: str | None = None) -> ProviderPayment:
        return mapping.to_provider_payment(self._call(method, path, body, idempotency_key))

    def _call(self, method: str, path: str, body: dict | None = None,
              idempotency_key: str | None = None, params: dict | None = None) -> dict:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        # A PSP call must never follow a redirect somewhere else with our key (allow_redirects).
        try:
            response = self._http.request(method, self.api_url + path, json=body, params=params,
                                          headers=headers, timeout=self.timeout,
                                          allow_redirects=False)
        except requests.ConnectTimeout as exc:
            # Never connected: the PSP cannot have acted.
            raise ProviderError(f"sandbox unreachable: {exc}", code="connect_timeout",
                                retryable=True, executed=False) from None
        except requests.ConnectionError as exc:
            if isinstance(exc, requests.ReadTimeout) or "Read timed out" in str(exc):
                raise ProviderTimeout(f"sandbox did not answer: {exc}") from None
            # Refused or reset before an answer: treat as unknown unless it never connected.
            executed = False if "refused" in str(exc).lower() else None
            raise ProviderError(f"sandbox connection failed: {exc}", code="connection_error",
                                retryable=True, executed=executed) from None
        except requests.Timeout as exc:
            raise ProviderTimeout(f"sandbox did not answer: {exc}") from None
        except requests.RequestException as exc:
            # e.g. the answer broke off mid-body: the PSP may have acted.
            raise ProviderError(f"sandbox answer unreadable: {exc}", code="transport_error",
                                retryable=True, executed=None) from None
        return self._parse(response)

    @staticmethod
    def _parse(response: requests.Response) -> dict:
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code < 300 and isinstance(data, dict) and "object" in data:
            return data
        error = (data.get("error") if isinstance(data, dict) else None) or {}
        message = error.get("message") or f"sandbox answered HTTP {response.status_code}"
        status = response.status_code
        kind = error.get("type")
        if status == 402:
            raise ProviderError(message, code=error.get("code"), status=status, executed=True,
                                decline_code=error.get("decline_code"))
        if status == 409 and kind == "idempotency_error":
            # Another request with our key is in flight: back off and retry the same key.
            raise ProviderError(message, code=error.get("code"), status=status, retryable=True,
                                executed=None)
        if kind == "idempotency_error":
            # Our key was used before with other parameters: whatever that first request did
            # stands, so this is never "not executed" (and never retried: it cannot succeed).
            raise ProviderError(message, code=error.get("code") or kind, status=status,
                                executed=None)
        if status == 429:
            raise ProviderError(message, code="rate_limited", status=status, retryable=True,
                                retry_after=_seconds(response.headers.get("Retry-After")))
        if status >= 500 or status < 300:
            raise ProviderError(message, code=error.get("code") or "api_error", status=status,
                                retryable=True, executed=None)
        raise ProviderError(message, code=error.get("code") or kind, status=status)


def _session_for(api_url: str) -> requests.Session:
    """A requests Session that reads the environment's proxy and CA settings once, here.

    With trust_env (requests' default) every call re-reads the proxy variables, the netrc
    file and the CA bundle variables: ≈ 0.3 ms of CPU per PSP call on the checkout's path for
    settings that only change with a restart. Read once, they still apply; the netrc file never
    did anything useful here (the API key is our Authorization header)."""
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(api_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    return session


def _seconds(header: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is not used by PSPs we speak to)."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None
