"""The contract every PSP adapter fulfils, and the errors it raises.

Adapters translate; services decide. An adapter never touches the database, never commits, never
changes a payment's status: it calls the PSP and maps what comes back into the plain records of
app/providers/records.py (re-exported here, where adapters and services import them from).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

from app.providers.records import (  # noqa: F401
    BrowserOrigins,
    CardDisplay,
    CardFields,
    EventKind,
    ProviderDispute,
    ProviderEvent,
    ProviderPayment,
    ProviderPayout,
    ProviderRefund,
    ReusableMethod,
    SessionRequest,
    SettlementLine,
    SettlementPage,
)


class ProviderError(Exception):
    """A PSP call failed. `executed` says whether the PSP may have acted on it."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 retryable: bool = False, executed: bool | None = False,
                 decline_code: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        # Seconds the PSP asked us to wait (429 Retry-After); the retry guard honours it.
        self.retry_after = retry_after
        self.code = code
        self.status = status
        self.retryable = retryable
        # True: it happened; False: it certainly did not; None: nobody knows (timeout).
        self.executed = executed
        self.decline_code = decline_code


class ProviderTimeout(ProviderError):
    """The request may have reached the PSP and we never heard back: outcome unknown."""

    def __init__(self, message: str):
        super().__init__(message, code="timeout", retryable=True, executed=None)


class InvalidSignature(Exception):
    """A webhook whose signature, timestamp or body does not verify."""


class PaymentProvider(ABC):
    """One PSP. Every method is a network call that must be safe to retry with the same key."""

    name: str

    @abstractmethod
    def browser_origins(self) -> BrowserOrigins:
        """This PSP's public origins for the buyer's browser (from configuration, no network
        call). The checkout pages of a payment routed here allow exactly these, so a new PSP
        or a second instance of one needs no CSP edit."""

    @abstractmethod
    def create_session(self, request: SessionRequest) -> ProviderPayment:
        """Create a hosted/embedded payment session. Called once per payment, outside any
        database transaction, with an idempotency key already committed by the caller.
        Must not charge anything: the buyer authorizes on the PSP's page."""

    @abstractmethod
    def retrieve(self, reference: str) -> ProviderPayment:
        """Fetch the authoritative state of a payment. Read-only: never moves money."""

    @abstractmethod
    def find_by_reference(self, our_reference: str) -> ProviderPayment | None:
        """Find the PSP object created for our payment id (to settle an UNKNOWN create)."""

    @abstractmethod
    def authorize_saved(self, reference: str, token: str, idempotency_key: str) -> ProviderPayment:
        """Authorize the session `reference` with a card the buyer saved earlier, exactly once
        per idempotency key. Called outside any database transaction, only after the buyer
        chose that saved card for this payment. Returns AUTHORIZED, or REQUIRES_ACTION with the
        `redirect_url` where the buyer completes 3-D Secure; a decline raises ProviderError
        with `decline_code` (executed=True).
        Must never capture, never skip the card's authentication, never use a token for any
        payment but the one the buyer chose it for, and never put the token in a log line or
        an error message."""

    def supported_modes(self) -> tuple[str, ...]:
        """The integration modes this PSP can honestly take here (no network call): a mode it
        lacks is never offered for a payment routed to it, and asking for it is refused
        before the buyer pays, never silently turned into another mode."""
        return ("hosted", "embedded") + (("fields",) if self.card_fields() else ())

    def saves_cards(self) -> bool:
        """Whether "Save my card" really saves a card here: the PSP returns a reusable method
        (ProviderPayment.reusable_method) and authorize_saved pays with it. False: the option
        is not shown for a payment routed here, and asking for it is refused before paying."""
        return False

    def saved_card_mode(self) -> str:
        """The integration mode a payment with a saved card is opened in (no network call):
        the session authorize_saved can pay server-side — the sandbox's hosted session, a
        Stripe PaymentIntent. The buyer sees that mode's page only if the bank wants them."""
        return "hosted"

    def card_fields(self) -> CardFields | None:
        """This PSP's card fields for our own page (from configuration, no network call), or
        None when it offers none here: the checkout then never offers "Card form on this
        page" for a payment routed to it."""
        return None

    def authorize_token(self, reference: str, token: str,
                        idempotency_key: str) -> ProviderPayment:
        """Authorize session `reference` with the single-use token this PSP's card fields made
        in the buyer's browser, exactly once per idempotency key; the same answers as
        authorize_saved (AUTHORIZED, REQUIRES_ACTION with `redirect_url`, or ProviderError
        with `decline_code` for a decline). Called outside any database transaction.
        Must never capture, never log the token, and never be called for a PSP whose
        card_fields() is None (it raises ProviderError "not_supported", executed=False)."""
        raise ProviderError(f"{self.name} has no card fields", code="not_supported",
                            executed=False)

    @abstractmethod
    def cancel(self, reference: str, idempotency_key: str) -> ProviderPayment:
        """Cancel a session that has not been authorized. Never voids an authorization."""

    @abstractmethod
    def capture(self, reference: str, amount: int, idempotency_key: str) -> ProviderPayment:
        """Capture up to the authorized amount, exactly once per idempotency key."""

    @abstractmethod
    def void(self, reference: str, idempotency_key: str) -> ProviderPayment:
        """Release an authorization that was not captured (or, after partial captures, the
        rest of it)."""

    def multicapture(self) -> bool:
        """Whether several partial captures may be made against one authorization here
        (capture_part with final=False). False: one capture only, which releases the rest."""
        return False

    def capture_part(self, reference: str, amount: int, idempotency_key: str,
                     final: bool) -> ProviderPayment:
        """Capture `amount` of an authorization, exactly once per idempotency key, leaving the
        rest capturable unless `final`. Only where multicapture() is True; never moves more
        than the authorization has left (the PSP refuses: ProviderError, executed=False).

        Without multicapture the one capture allowed is the final one: `capture`, which releases
        the rest; a part that would leave the rest capturable is refused before the PSP."""
        if final:
            return self.capture(reference, amount, idempotency_key)
        raise ProviderError(f"{type(self).__name__}: one capture per authorization",
                            code="multicapture_unsupported", retryable=False, executed=False)

    @abstractmethod
    def create_payout(self, amount: int, currency: str, destination: dict, holder_name: str,
                      idempotency_key: str) -> ProviderPayout:
        """Send money from the platform's PSP balance to a seller's bank account, exactly once
        per idempotency key. `destination` is {"iban"} or {"account_number", "routing_number"};
        it must never be logged."""

    @abstractmethod
    def retrieve_payout(self, reference: str) -> ProviderPayout:
        """Fetch a payout's authoritative state. Read-only."""

    @abstractmethod
    def refund(self, reference: str, amount: int, idempotency_key: str,
               metadata: dict | None = None) -> ProviderRefund:
        """Return `amount` of a captured payment to the buyer, exactly once per idempotency key.
        Called outside any database transaction, after the caller committed the refund row
        and its key. Must never refund more than the PSP holds as captured minus refunded
        (the PSP refuses; raise ProviderError with executed=False)."""

    @abstractmethod
    def retrieve_refund(self, reference: str) -> ProviderRefund:
        """Fetch a refund's authoritative state. Read-only."""

    def recent_events(self, limit: int) -> list[tuple[ProviderEvent, bytes]] | None:
        """The PSP's newest events (at most `limit`), each with the raw JSON to store, read
        through the authenticated API (so no signature is needed): the catch-up for webhooks
        the PSP believes it delivered. None: this PSP has no event list and its webhooks are
        the only source (reconciliation is then the safety net)."""
        return None

    @abstractmethod
    def retrieve_dispute(self, reference: str) -> ProviderDispute:
        """Fetch a chargeback's authoritative state. Read-only."""

    @abstractmethod
    def submit_dispute_evidence(self, reference: str, evidence: dict[str, str],
                                submit: bool = True) -> ProviderDispute:
        """Send evidence text fields for a chargeback before its due date; `submit` closes
        the response (Stripe semantics). Never accepts or concedes the dispute by itself."""

    @abstractmethod
    def settlement_page(self, day: str, cursor: str | None) -> SettlementPage:
        """One page of the money movements the PSP reports for a UTC day (YYYY-MM-DD), from
        `cursor` (None: the first page). Read-only and repeatable: the same day and cursor give
        the same lines, so an import can stop and resume. Must not move money."""

    def event_kind(self, event_type: str) -> EventKind:
        """What an event type of this PSP is about (the webhook service dispatches on it)."""
        return EventKind.OTHER

    def stored_event(self, event_id: str, event_type: str, object_id: str | None,
                     payload: dict) -> ProviderEvent:
        """The common event again, from what the webhook inbox stored: the same kind and
        references parse_webhook gave it. `payload` is the stored body as JSON ({} when it is
        not JSON). Called by the worker that processes the event; local work, no network.
        Must not verify anything (the signature was checked on receipt) nor trust the payload
        for more than finding our object: the service re-fetches it from the PSP."""
        return ProviderEvent(provider=self.name, event_id=event_id, type=event_type,
                             object_id=object_id, payload=payload,
                             kind=self.event_kind(event_type))

    def payment_in_event(self, payload: dict) -> ProviderPayment | None:
        """The payment snapshot inside a payment event, when the PSP sends a whole object we
        can map; used only when re-fetching failed. None: no usable snapshot (the event waits
        for a retry)."""
        return None

    @abstractmethod
    def parse_webhook(self, raw_body: bytes, headers) -> ProviderEvent:
        """Verify the signature on the raw bytes and parse the event; raise InvalidSignature.
        Must not trust anything in the body before the signature verifies."""
