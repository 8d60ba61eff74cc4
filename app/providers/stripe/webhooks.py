"""Verify Stripe webhooks with the SDK (`stripe.Webhook.construct_event`) over the raw bytes."""
from __future__ import annotations

import json

import stripe

from app import clock
from app.providers.base import InvalidSignature, ProviderEvent
from app.providers.stripe import mapping

HEADER = "Stripe-Signature"


def _timestamp(header: str) -> int:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    raise InvalidSignature("malformed signature header")


def parse(raw_body: bytes, headers, secrets: list[str], tolerance: int,
          now: float | None = None) -> ProviderEvent:
    """Verify against each configured secret (rotation), then parse; nothing is read before."""
    header = headers.get(HEADER)
    if not header:
        raise InvalidSignature("missing Stripe-Signature header")
    if not secrets:
        raise InvalidSignature("no Stripe webhook secret is configured")
    # The SDK refuses only stamps that are too old; a far-future one is as suspect, so both.
    current = clock.timestamp() if now is None else now
    if _timestamp(header) - current > tolerance:
        raise InvalidSignature("timestamp too far in the future")
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSignature("body is not UTF-8") from None
    event = None
    for secret in secrets:
        try:
            event = stripe.Webhook.construct_event(text, header, secret, tolerance=tolerance)
            break
        except stripe.SignatureVerificationError:
            continue
        except ValueError as exc:  # signed, but not JSON
            raise InvalidSignature(f"signed but not an event: {exc}") from None
    if event is None:
        raise InvalidSignature("no signature matches a configured secret")
    payload = event.to_dict()
    try:
        obj = payload["data"]["object"]
        payload, redacted = without_secrets(payload)
        return mapping.to_event(str(payload["id"]), str(payload["type"]), obj.get("id"),
                                payload, inbox_body=json.dumps(payload) if redacted else None)
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidSignature(f"signed but not an event: {exc}") from None


# Fields Stripe puts in event objects that the platform must never store: a PaymentIntent's
# client_secret lets whoever holds it (with the publishable key) confirm that payment.
SECRET_FIELDS = ("client_secret",)
# And on an object of a Customer's (a saved card's payment): its PaymentMethod id, with which
# the card pays again (with our key); only the vault keeps it, sealed. A PaymentMethod that
# belongs to no Customer cannot be used again, so other events are stored as signed. The
# service re-fetches the object from Stripe, so nothing is lost.
CUSTOMER_SECRET_FIELDS = ("payment_method",)


def without_secrets(payload: dict) -> tuple[dict, bool]:
    """The event without SECRET_FIELDS in its object (and previous_attributes), nor
    CUSTOMER_SECRET_FIELDS in a Customer's object; whether any was there. The signature was
    verified on the raw bytes first."""
    data = payload.get("data") or {}
    found = False
    customers = isinstance(data.get("object"), dict) and bool(data["object"].get("customer"))
    for part in ("object", "previous_attributes"):
        holder = data.get(part)
        if isinstance(holder, dict):
            for name in SECRET_FIELDS + (CUSTOMER_SECRET_FIELDS if customers else ()):
                if name in holder:
                    holder.pop(name)
                    found = True
    return payload, found
