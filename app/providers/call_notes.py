"""What the guard (resilience.py) tells the PSP call log about each attempt of a PSP call.

Only named facts leave the call: which method, which idempotency key (or our own reference)
and which PSP object it was about, how it ended, how long it took. The call's other arguments
(card tokens, nonces, bank details, evidence) and its answer's body are never read here, so
they can never reach the log.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.providers.base import ProviderError, ProviderTimeout

# Method → (position of its idempotency key or our own reference, position of the PSP
# reference it is about); None where it has none. create_session's key is on its request.
ARGUMENTS: dict[str, tuple[int | None, int | None]] = {
    "create_session": (0, None),
    "retrieve": (None, 0),
    "find_by_reference": (0, None),
    "authorize_saved": (2, 0),
    "authorize_token": (2, 0),
    "authorize_nonce": (0, None),
    "cancel": (1, 0),
    "capture": (2, 0),
    "void": (1, 0),
    "refund": (2, 0),
    "retrieve_refund": (None, 0),
    "create_payout": (4, None),
    "fund": (2, None),
    "retrieve_payout": (None, 0),
    "retrieve_dispute": (None, 0),
    "submit_dispute_evidence": (None, 0),
}
KEY_CHARS, ID_CHARS, CODE_CHARS = 100, 100, 64


@dataclass(frozen=True)
class Attempt:
    """One attempt of one guarded call, as the call log keeps it."""

    provider: str            # the PSP (sandbox, stripe, braintree)
    instance: str            # its configured name (sandbox_us, …)
    operation: str
    attempt: int             # 1, 2, … within one guarded call
    started_at: float        # epoch seconds (app.clock.timestamp)
    duration_ms: int
    outcome: str
    http_status: int | None = None
    error_code: str | None = None
    idempotency_key: str | None = None
    reference: str | None = None        # the PSP object the call was about
    psp_request_id: str | None = None
    psp_object_id: str | None = None    # the object the PSP answered with (or was asked about)


def _text(value, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def subject(method: str, args: tuple) -> tuple[str | None, str | None]:
    """(idempotency key or our reference, PSP reference) read from the call's arguments."""
    key_at, ref_at = ARGUMENTS.get(method, (None, None))
    key = args[key_at] if key_at is not None and key_at < len(args) else None
    if key is not None and not isinstance(key, str):
        key = getattr(key, "idempotency_key", None)  # a SessionRequest
    ref = args[ref_at] if ref_at is not None and ref_at < len(args) else None
    return _text(key, KEY_CHARS), _text(ref, ID_CHARS)


def answered_id(result) -> str | None:
    """The PSP's id of what it answered with: a record's reference, or a bare id string."""
    if isinstance(result, str):
        return _text(result, ID_CHARS)
    return _text(getattr(result, "reference", None), ID_CHARS)


def outcome_of(error: ProviderError) -> tuple[str, int | None, str | None]:
    """(outcome, HTTP status, error code) of a failed attempt. Read before the guard rewrites
    the error's `executed` for the key's history."""
    code, status = error.code, error.status
    if code in ("circuit_open", "unexpected_error"):
        outcome = code
    elif code == "rate_limited" and status is None:
        outcome = "throttled"           # our own token bucket: nothing was sent
    elif status == 429:
        outcome = "rate_limited"
    elif isinstance(error, ProviderTimeout) or code == "timeout":
        outcome = "timeout"
    elif code in ("connect_timeout", "connect_error") or (
            code == "connection_error" and error.executed is False):
        outcome = "connection_refused"
    elif code in ("connection_error", "transport_error"):
        outcome = "connection_lost"
    elif status:
        outcome = "http_error"
    else:
        outcome = "refused"             # the adapter refused without asking the PSP
    return outcome, status, _text(code, CODE_CHARS)


def request_id_of(error: ProviderError) -> str | None:
    """The PSP's request id, when the adapter kept it on the error (Stripe's does)."""
    return _text(getattr(error, "request_id", None), ID_CHARS)
