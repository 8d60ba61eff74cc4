"""The guard around every PSP adapter: timeouts, retries with backoff, a rate limit, a breaker.

What may be retried, and how:
- only errors the adapter marked `retryable` (5xx, 409 "in progress", 429, unreachable);
  refusals and declines are answers, never retried;
- always the very same call: same idempotency key, same parameters (the PSP replays or
  executes once);
- a timeout after sending (ProviderTimeout) is NOT retried here: the PSP is slow, piling on
  makes it slower, and the buyer is waiting. The payment goes UNKNOWN and the janitor asks;
- calls without an idempotency key that change something (dispute evidence) are retried only
  when the PSP certainly did not execute them;
- exponential backoff with full jitter, 429's Retry-After honoured, and a total time budget:
  a retry that could not finish within it is not started.

The breaker counts failures that say the PSP is unwell (5xx, timeouts, unreachable), not its
answers (declines, validation, 409, 429). An open breaker refuses at once with CircuitOpen
(executed=False), which lets checkout fail over to the next provider in the route.

Every attempt, refused ones included, is handed to the `journal` (the PSP call log,
services/psp_calls.record, which never raises): see call_notes.py for what it is told.
"""
from __future__ import annotations

import logging
import time

from app import clock, pause_points
from app.providers import call_notes
from app.providers.base import PaymentProvider, ProviderError
from app.providers.breaker import OPEN, CircuitBreaker, TokenBucket
from app.providers.retry_policy import CircuitOpen, RetryPolicy, counts_against_breaker, may_retry

log = logging.getLogger(__name__)


class GuardedProvider(PaymentProvider):
    """A PaymentProvider that wraps another one's network calls in the guard."""

    def __init__(self, inner: PaymentProvider, name: str, policy: RetryPolicy,
                 breaker: CircuitBreaker | None, bucket: TokenBucket | None, journal=None):
        self.inner, self.name, self.policy = inner, name, policy
        self.breaker, self.bucket = breaker, bucket
        self.journal = journal  # called with a call_notes.Attempt after every attempt
        module = type(inner).__module__
        self.psp = module.split(".")[2] if module.startswith("app.providers.") else name

    def __getattr__(self, attribute):
        # Anything not in the contract (adapter-specific helpers) goes straight to the adapter.
        if attribute == "inner":
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    # --- the contract, guarded -------------------------------------------------------------
    def create_session(self, request):
        return self._guarded("create_session", True, request)

    def retrieve(self, reference):
        return self._guarded("retrieve", True, reference)

    def find_by_reference(self, our_reference):
        return self._guarded("find_by_reference", True, our_reference)

    def authorize_saved(self, reference, token, idempotency_key):
        return self._guarded("authorize_saved", True, reference, token, idempotency_key)

    def authorize_token(self, reference, token, idempotency_key):
        return self._guarded("authorize_token", True, reference, token, idempotency_key)

    def card_fields(self):
        return self.inner.card_fields()

    def supported_modes(self):
        return self.inner.supported_modes()

    def saves_cards(self):
        return self.inner.saves_cards()

    def saved_card_mode(self):
        return self.inner.saved_card_mode()

    def cancel(self, reference, idempotency_key):
        return self._guarded("cancel", True, reference, idempotency_key)

    def capture(self, reference, amount, idempotency_key):
        return self._guarded("capture", True, reference, amount, idempotency_key)

    def void(self, reference, idempotency_key):
        return self._guarded("void", True, reference, idempotency_key)

    def multicapture(self):
        return self.inner.multicapture()

    def capture_part(self, reference, amount, idempotency_key, final):
        return self._guarded("capture_part", True, reference, amount, idempotency_key, final)

    def create_payout(self, amount, currency, destination, holder_name, idempotency_key):
        return self._guarded("create_payout", True, amount, currency, destination, holder_name,
                          idempotency_key)

    def fund(self, amount, currency, idempotency_key):
        return self._guarded("fund", True, amount, currency, idempotency_key)

    def sweep(self, amount, currency, idempotency_key):
        return self._guarded("sweep", True, amount, currency, idempotency_key)

    def convert(self, sell_amount, sell_currency, buy_amount, buy_currency, idempotency_key):
        return self._guarded("convert", True, sell_amount, sell_currency, buy_amount,
                             buy_currency, idempotency_key)

    def retrieve_payout(self, reference):
        return self._guarded("retrieve_payout", True, reference)

    def refund(self, reference, amount, idempotency_key, metadata=None):
        return self._guarded("refund", True, reference, amount, idempotency_key, metadata)

    def retrieve_refund(self, reference):
        return self._guarded("retrieve_refund", True, reference)

    def retrieve_dispute(self, reference):
        return self._guarded("retrieve_dispute", True, reference)

    def recent_events(self, limit):
        return self._guarded("recent_events", True, limit)

    def submit_dispute_evidence(self, reference, evidence, submit=True):
        return self._guarded("submit_dispute_evidence", False, reference, evidence, submit)

    def settlement_page(self, day, cursor):
        return self._guarded("settlement_page", True, day, cursor)  # a read

    # --- Braintree's Drop-in calls, outside the contract but network calls all the same ---
    def authorize_nonce(self, our_reference, nonce, amount, currency, save=False):
        # Keyed: our_reference (the payment's idempotency key) is the sale's order_id, and the
        # adapter looks it up before selling, so a repeat finds the sale instead of a second one.
        return self._guarded("authorize_nonce", True, our_reference, nonce, amount, currency,
                             save)

    def authorize_vaulted(self, our_reference, token, amount, currency):
        # Keyed like authorize_nonce (the vaulted card's sale carries our order_id).
        return self._guarded("authorize_vaulted", True, our_reference, token, amount, currency)

    def client_token(self):
        return self._guarded("client_token", True)  # a read

    # Local work, no network: passed through unguarded.
    def browser_origins(self):
        return self.inner.browser_origins()

    def event_kind(self, event_type):
        return self.inner.event_kind(event_type)

    def stored_event(self, event_id, event_type, object_id, payload):
        return self.inner.stored_event(event_id, event_type, object_id, payload)

    def payment_in_event(self, payload):
        return self.inner.payment_in_event(payload)

    def parse_webhook(self, raw_body, headers):
        return self.inner.parse_webhook(raw_body, headers)

    # --- the guard -------------------------------------------------------------------------
    def _guarded(self, method: str, keyed: bool, *args):
        """Run inner.method(*args) under the retry policy, rate limit and breaker. `keyed`:
        the call is a read or carries an idempotency key, so repeating it is safe."""
        policy = self.policy
        started = policy.clock()
        attempt, last, maybe = 0, None, False
        while True:
            attempt += 1
            at, tick = clock.timestamp(), time.perf_counter()
            refusal, clean = self._admit(started)
            if refusal is not None:
                self._note(method, args, attempt, at, tick, error=refusal)
                # On a retry the previous error is raised instead: it alone knows whether the
                # PSP executed the call (its history already applied).
                raise last or refusal
            at, tick = clock.timestamp(), time.perf_counter()  # the call alone, not the wait
            try:
                result = getattr(self.inner, method)(*args)
            except ProviderError as error:
                self._note(method, args, attempt, at, tick, error=error)
                self._record(error)
                last = error
                # `executed` describes the key's whole history, not this attempt: once one
                # attempt may have executed, no later "certainly not" may say otherwise.
                maybe = maybe or error.executed is not False
                if maybe and error.executed is False:
                    error.executed = None
                if not may_retry(error, keyed) or attempt >= policy.attempts:
                    raise
                delay = policy.backoff(attempt, error)
                remaining = policy.budget - (policy.clock() - started)
                if delay + self._call_timeout() > remaining:
                    log.info("%s.%s: no time left to retry %s", self.name, method, error.code)
                    raise
                log.info("%s.%s failed (%s); retry %d in %.2fs with the same key",
                         self.name, method, error.code, attempt, delay)
                policy.sleep(delay)
                continue
            except Exception as crash:  # an adapter's bug: logged as an attempt, then raised
                self._note(method, args, attempt, at, tick, error=ProviderError(
                    type(crash).__name__, code="unexpected_error", executed=None))
                raise
            self._note(method, args, attempt, at, tick, result=result)
            if self.breaker is not None and not clean:
                self.breaker.record_success()
            pause_points.reached(f"psp:{method}:answered")  # a fault test may kill us here
            return result

    def _admit(self, started: float) -> tuple[ProviderError | None, bool]:
        """Pass the breaker and the rate limit (one Redis script), or say why the call may not
        be sent; and whether the breaker had nothing to reset (True: its reset is skipped)."""
        clean, wait = False, 0.0
        if self.breaker is not None:
            state, clean, wait = self.breaker.admit(self.bucket)
            if state == OPEN:
                return CircuitOpen(self.name), clean
        elif self.bucket is not None:
            wait = self.bucket.take()
        while wait > 0:
            remaining = self.policy.budget - (self.policy.clock() - started)
            if wait > remaining:
                return ProviderError(f"{self.name}: client-side rate limit reached",
                                     code="rate_limited", retryable=True,
                                     executed=False), clean
            self.policy.sleep(wait)
            wait = self.bucket.take()
        return None, clean

    def _note(self, method: str, args: tuple, attempt: int, at: float, tick: float, *,
              error: ProviderError | None = None, result=None) -> None:
        """Hand one attempt to the journal; nothing here may fail the call it describes."""
        if self.journal is None:
            return
        try:
            key, reference = call_notes.subject(method, args)
            if error is None:
                outcome, status, code, request_id = "ok", None, None, None
                answered = call_notes.answered_id(result)
            else:
                outcome, status, code = call_notes.outcome_of(error)
                request_id, answered = call_notes.request_id_of(error), None
            self.journal(call_notes.Attempt(
                provider=self.psp, instance=self.name, operation=method, attempt=attempt,
                started_at=at, duration_ms=round((time.perf_counter() - tick) * 1000),
                outcome=outcome, http_status=status, error_code=code, idempotency_key=key,
                reference=reference, psp_request_id=request_id,
                psp_object_id=answered or reference))
        except Exception:  # noqa: BLE001
            log.warning("%s.%s: the PSP call log was not told of attempt %d", self.name,
                        method, attempt, exc_info=True)

    def _record(self, error: ProviderError) -> None:
        if self.breaker is None:
            return
        if counts_against_breaker(error):
            if self.breaker.record_failure() == OPEN:
                log.warning("%s: circuit breaker open after %s", self.name, error.code)
        elif not error.retryable:
            self.breaker.record_success()  # a refusal is a healthy answer

    def _call_timeout(self) -> float:
        return float(getattr(self.inner, "timeout", 0) or 0)


def guard(adapter: PaymentProvider, name: str, config) -> GuardedProvider:
    """Wrap an adapter with the settings from config; its own timeout is capped at
    PSP_TIMEOUT_SECONDS so that no PSP call can wait longer than that."""
    limit = float(config["PSP_TIMEOUT_SECONDS"])
    current = getattr(adapter, "timeout", None)
    if current is None or current <= 0 or current > limit:
        try:
            adapter.timeout = limit
        except AttributeError:  # an adapter that cannot take one must enforce its own
            log.warning("%s: adapter has no settable timeout", name)
    policy = RetryPolicy(attempts=config.get("PSP_RETRY_ATTEMPTS", 3),
                         base_delay=config.get("PSP_RETRY_BASE_SECONDS", 0.2),
                         max_delay=config.get("PSP_RETRY_MAX_SECONDS", 2.0),
                         budget=config.get("PSP_RETRY_BUDGET_SECONDS", 15.0))
    from app.extensions import queues

    connection = queues.connection
    breaker = CircuitBreaker(connection, name,
                             threshold=config.get("PSP_BREAKER_THRESHOLD", 5),
                             cooldown=config.get("PSP_BREAKER_COOLDOWN_SECONDS", 30.0))
    bucket = TokenBucket(connection, name, rate=config.get("PSP_RATE_PER_SECOND", 25.0),
                         burst=config.get("PSP_RATE_BURST", 25.0))
    # The call log is the one thing the guard hands upwards: a sink that never raises and
    # imports nothing from the providers.
    from app.services.psp_calls import record

    return GuardedProvider(adapter, name, policy, breaker, bucket, journal=record)
