"""Verify and parse the sandbox PSP's signed webhooks (Stripe's scheme, own header)."""
from __future__ import annotations

import hashlib
import hmac
import json

from app import clock
from app.providers.base import InvalidSignature, ProviderEvent
from app.providers.sandbox import mapping

HEADER = "Sandbox-Signature"


def sign(secret: str, raw_body: bytes, timestamp: int) -> str:
    """The header value the sandbox sends: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(raw_body: bytes, header: str | None, secrets: list[str], tolerance: int,
           now: float | None = None) -> None:
    """Raise InvalidSignature unless some v1 matches some secret within the time tolerance."""
    if not header:
        raise InvalidSignature("missing signature header")
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("malformed signature header")
    current = clock.timestamp() if now is None else now
    # Unlike the Stripe SDK we also refuse far-future stamps: a clock that far off is an attack
    # or a misconfiguration, and either way the event can be redelivered.
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance")
    signed = f"{timestamp}.".encode() + raw_body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, sig) for sig in signatures):
            return
    raise InvalidSignature("no signature matches")


def parse(raw_body: bytes, headers, secrets: list[str], tolerance: int) -> ProviderEvent:
    """Verify, then parse the event; nothing in the body is read before verification."""
    verify(raw_body, headers.get(HEADER), secrets, tolerance)
    try:
        event = json.loads(raw_body)
        obj = event["data"]["object"]
        return mapping.to_event("sandbox", str(event["id"]), str(event["type"]), obj.get("id"),
                                event)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidSignature(f"signed but not an event: {exc}") from None
