"""Verify and parse Braintree webhook notifications (a form POST of bt_signature + bt_payload).

The signature is "public_key|hex(HMAC-SHA1(key=SHA1(private_key), payload))", several pairs
"&"-joined; the SDK's webhook_notification.parse checks it. There is no timestamp in the
signature, so there is no replay window to enforce: the event id is kind + subject id +
notification timestamp, and the inbox's unique (provider, event_id) drops a replay.
"""
from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import parse_qs

from braintree.exceptions.invalid_signature_error import InvalidSignatureError

from app.providers.base import InvalidSignature, ProviderEvent
from app.providers.braintree import mapping

SUBJECTS = ("transaction", "dispute", "disbursement", "subscription", "merchant_account")


def form_fields(raw_body: bytes) -> tuple[str, str]:
    """bt_signature and bt_payload from the raw form body: exactly one of each."""
    try:
        fields = parse_qs(raw_body.decode("ascii"), strict_parsing=True,
                          keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise InvalidSignature("not a Braintree notification form") from None
    signature, payload = fields.get("bt_signature", []), fields.get("bt_payload", [])
    if len(signature) != 1 or len(payload) != 1:
        raise InvalidSignature("bt_signature and bt_payload must each appear once")
    return signature[0], payload[0]


def subject_id(notification) -> str | None:
    """The id of what the notification is about."""
    for name in SUBJECTS:
        subject = getattr(notification, name, None)
        if subject is not None and getattr(subject, "id", None):
            return str(subject.id)
    return None


def parse(gateway, raw_body: bytes) -> ProviderEvent:
    """Verify with the SDK, then build the common event; nothing is read before that."""
    signature, payload = form_fields(raw_body)
    try:
        notification = gateway.webhook_notification.parse(signature, payload)
    except InvalidSignatureError as exc:
        raise InvalidSignature(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 — signed but unreadable XML is still not an event
        raise InvalidSignature(f"signed but not a notification: {type(exc).__name__}") from None
    kind = str(notification.kind)
    object_id = subject_id(notification)
    timestamp = notification.timestamp
    stamp = timestamp.strftime("%Y-%m-%dT%H:%M:%SZ") if timestamp else ""
    payload = {"kind": kind, "subject_id": object_id, "timestamp": stamp}
    disbursement = getattr(notification, "disbursement", None)
    if disbursement is not None:
        # The transactions it paid out find the seller payouts among them; stored as the
        # inbox body (JSON), so the worker reads them without the signed form again.
        payload["transaction_ids"] = [str(t) for t in disbursement.transaction_ids or []]
    event = mapping.to_event(f"{kind}:{object_id or '-'}:{stamp}", kind, object_id, payload)
    if disbursement is not None:
        event = replace(event, inbox_body=json.dumps(payload))
    return event
