"""Stripe SDK exceptions → ProviderError, saying whether Stripe may have acted and if a retry
with the same idempotency key is worth it."""
from __future__ import annotations

import stripe

from app.providers.base import ProviderError, ProviderTimeout


def translate(exc: stripe.StripeError) -> ProviderError:
    """The ProviderError for one SDK exception (never includes request bodies or keys), with
    Stripe's request id (req_…) for the PSP call log, when Stripe sent one."""
    translated = _translate(exc)
    translated.request_id = getattr(exc, "request_id", None)
    return translated


def _translate(exc: stripe.StripeError) -> ProviderError:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or getattr(exc, "code", None)
    status = getattr(exc, "http_status", None)
    message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    if isinstance(exc, stripe.CardError):
        # The card was tried: a decline is an outcome, not a failure to reach Stripe.
        return ProviderError(message, code=code, status=status, executed=True,
                             decline_code=getattr(error, "decline_code", None))
    if isinstance(exc, stripe.RateLimitError):
        return ProviderError(message, code="rate_limited", status=status, retryable=True,
                             executed=False)
    if isinstance(exc, stripe.IdempotencyError):
        # Our key was used with other parameters: whatever the first request did stands.
        return ProviderError(message, code="idempotency_error", status=status, executed=None)
    if isinstance(exc, (stripe.InvalidRequestError, stripe.AuthenticationError,
                        stripe.PermissionError)):
        # Refused before acting (validation, unknown id, state, credentials): nothing saved.
        return ProviderError(message, code=code or type(exc).__name__, status=status,
                             executed=False)
    if isinstance(exc, stripe.APIConnectionError):
        return _connection_error(str(exc))
    if status == 409:
        # Another request with our key is in flight: it may act; retry the same key later.
        return ProviderError(message, code=code or "idempotency_key_in_use", status=status,
                             retryable=True, executed=None)
    # 5xx: Stripe saves the answer once it started executing, so nobody knows what happened.
    return ProviderError(message, code=code or "api_error", status=status, retryable=True,
                         executed=None)


def _connection_error(text: str) -> ProviderError:
    if "ConnectTimeout" in text or "Connection refused" in text or "NewConnectionError" in text:
        return ProviderError("Stripe unreachable", code="connect_error", retryable=True,
                             executed=False)
    if "ReadTimeout" in text or "Timeout" in text:
        return ProviderTimeout("Stripe did not answer in time")
    return ProviderError("connection to Stripe broke off", code="connection_error",
                         retryable=True, executed=None)
