"""Verify Stripe webhooks with the SDK (`stripe.Webhook.construct_event`) over the raw bytes."""
from __future__ import annotations

import time

import stripe

from app.providers.base import InvalidSignature, ProviderEvent

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
    current = time.time() if now is None else now
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
        return ProviderEvent(provider="stripe", event_id=str(payload["id"]),
                             type=str(payload["type"]), object_id=obj.get("id"),
                             payload=payload)
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidSignature(f"signed but not an event: {exc}") from None
