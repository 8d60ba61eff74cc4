"""The fake Stripe's memory: objects, idempotency records, injected faults and events."""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

# Stripe's test-mode fee on a card charge, so balance transactions carry a realistic fee.
FEE_PERCENT_BPS, FEE_FIXED = 290, 30
DISPUTE_FEE = 1500
FAULTS = ("5xx_before", "5xx_after", "timeout_after", "409", "429")


class ApiError(Exception):
    """An error answer: {"error": {type, code, decline_code, message, param}} with a status.

    `executed` marks errors raised after the request started acting (Stripe saves those for
    the idempotency key); validation errors save nothing, as on Stripe.
    """

    def __init__(self, status: int, type_: str, message: str, code: str | None = None,
                 decline_code: str | None = None, param: str | None = None,
                 executed: bool = False):
        super().__init__(message)
        self.status, self.executed = status, executed
        self.body = {"error": {k: v for k, v in {
            "type": type_, "code": code, "decline_code": decline_code, "message": message,
            "param": param}.items() if v is not None}}


def missing(kind: str, object_id: str, param: str = "id") -> ApiError:
    """Stripe's 404 for an unknown id."""
    return ApiError(404, "invalid_request_error", f"No such {kind}: '{object_id}'",
                    code="resource_missing", param=param)


def invalid(message: str, code: str | None = None, param: str | None = None) -> ApiError:
    """Stripe's 400 for a request it refuses."""
    return ApiError(400, "invalid_request_error", message, code=code, param=param)


@dataclass
class IdempotencyRecord:
    """What Stripe keeps for one key: the params, the saved answer and how often it executed."""

    params: dict
    status: int | None = None
    body: dict | None = None
    in_flight: bool = True
    executions: int = 0


@dataclass
class FakeStripe:
    """State shared by the fake's routes (one instance per fake app)."""

    api_key: str = "sk_test_fake"
    publishable_key: str = "pk_test_fake"  # what stripe.js on the merchant's page presents
    public_url: str = ""                 # where the buyer's browser reaches the hosted page
    webhook_url: str | None = None       # None: events are kept, not delivered
    webhook_secret: str = "whsec_fake"
    timeout_sleep: float = 6.0           # "timeout_after" sleeps this long before answering
    # Connected accounts' payouts reach the bank at once ("paid"), as in test mode's fast path;
    # False leaves them "in_transit" until a test settles them (controls.settle_payout).
    instant_payouts: bool = True
    # How many of the next top-ups the platform's bank refuses (booked, then reversed).
    fail_topups: int = 0
    objects: dict[str, dict] = field(default_factory=dict)
    extras: dict[str, dict] = field(default_factory=dict)   # fake-only facts per object id
    idempotency: dict[str, IdempotencyRecord] = field(default_factory=dict)
    faults: deque = field(default_factory=deque)
    events: list[dict] = field(default_factory=list)
    deliveries: list[tuple[str, int | str]] = field(default_factory=list)
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, key
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- objects ------------------------------------------------------------------------
    @staticmethod
    def new_id(prefix: str) -> str:
        """A Stripe-looking id."""
        return f"{prefix}_{secrets.token_hex(12)}"

    def put(self, obj: dict, **extras) -> dict:
        """Store an object (and fake-only facts about it)."""
        with self.lock:
            self.objects[obj["id"]] = obj
            if extras:
                self.extras.setdefault(obj["id"], {}).update(extras)
        return obj

    def get(self, object_id: str, kind: str) -> dict:
        """The object with that id and `object` field, or Stripe's 404."""
        obj = self.objects.get(object_id or "")
        if obj is None or obj["object"] != kind:
            raise missing(kind.replace("checkout.session", "checkout session"), object_id)
        return obj

    def of_kind(self, kind: str) -> list[dict]:
        """Every stored object of one kind, newest first."""
        with self.lock:
            found = [o for o in self.objects.values() if o["object"] == kind]
        return sorted(found, key=lambda o: o["created"], reverse=True)

    def balance_transaction(self, amount: int, currency: str, source: str, type_: str,
                            fee: int) -> dict:
        """A balance transaction for money moving in (+) or out (−) of the platform."""
        return self.put({"id": self.new_id("txn"), "object": "balance_transaction",
                         "amount": amount, "currency": currency, "fee": fee,
                         "fee_details": [{"amount": fee, "currency": currency,
                                          "type": "stripe_fee", "application": None,
                                          "description": "Stripe processing fees"}] if fee else [],
                         "net": amount - fee, "source": source, "type": type_,
                         "status": "pending", "created": int(time.time()),
                         "available_on": int(time.time()) + 2 * 86400,
                         "reporting_category": type_, "description": None,
                         "exchange_rate": None})

    # --- faults and idempotency -----------------------------------------------------------
    def fail_next(self, fault: str, method: str = "POST") -> None:
        """Queue a fault for the next API request with that method (POSTs act; GETs read, so
        an adapter's lookup before its POST does not use up the fault)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        self.faults.append((fault, method))

    def next_fault(self, method: str) -> str | None:
        """Take the next queued fault when it is meant for this method."""
        with self.lock:
            if self.faults and self.faults[0][1] == method:
                return self.faults.popleft()[0]
            return None

    def executions(self, key: str) -> int:
        """How often a request with this idempotency key really executed."""
        record = self.idempotency.get(key)
        return record.executions if record else 0

    # --- events -----------------------------------------------------------------------
    def emit(self, type_: str, obj: dict, idempotency_key: str | None = None,
             account: str | None = None) -> dict:
        """Record an event with a snapshot of the object, and deliver it when a URL is set.
        `account`: a Connect event about a connected account's object (Stripe names it)."""
        event = {"id": self.new_id("evt"), "object": "event", "api_version": "2025-01-27",
                 "created": int(time.time()), "livemode": False, "pending_webhooks": 1,
                 "type": type_, "data": {"object": copy.deepcopy(obj)},
                 "request": {"id": None, "idempotency_key": idempotency_key}}
        if account:
            event["account"] = account
        self.put(event)
        with self.lock:
            self.events.append(event)
        if self.webhook_url:
            threading.Thread(target=self._deliver, args=(event,), daemon=True).start()
        return event

    def events_of(self, type_: str) -> list[dict]:
        """The events of one type, oldest first."""
        return [e for e in self.events if e["type"] == type_]

    def _deliver(self, event: dict, attempts: int = 5) -> None:
        import requests

        raw = json.dumps(event).encode()
        for attempt in range(attempts):
            header = sign(self.webhook_secret, raw, int(time.time()))
            try:
                answer = requests.post(self.webhook_url, data=raw, timeout=5, headers={
                    "Content-Type": "application/json", "Stripe-Signature": header})
                self.deliveries.append((event["id"], answer.status_code))
                if answer.status_code < 300:
                    return
            except requests.RequestException as exc:
                self.deliveries.append((event["id"], type(exc).__name__))
            time.sleep(0.2 * 2 ** attempt)  # Stripe backs off exponentially too


def sign(secret: str, raw_body: bytes, timestamp: int) -> str:
    """A Stripe-Signature header: t=<unix>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def charge_fee(amount: int) -> int:
    """Stripe's card fee on a captured amount."""
    return amount * FEE_PERCENT_BPS // 10_000 + FEE_FIXED
