"""The contract every PSP adapter fulfils, and the plain data it speaks.

Adapters translate; services decide. An adapter never touches the database, never commits, never
changes a payment's status: it calls the PSP and maps what comes back into these dataclasses.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from urllib.parse import urlsplit

from app.domain.payment_states import PaymentStatus


@dataclass(frozen=True)
class SessionRequest:
    """What the platform asks a PSP for when a buyer starts paying."""

    reference: str            # our payment id, echoed back by the PSP
    amount: int               # minor units
    currency: str             # ISO 4217, upper case
    mode: str                 # "hosted" | "embedded" | "fields" (card fields on our page)
    return_url: str
    cancel_url: str
    parent_origin: str        # the platform origin allowed to frame the embedded page
    idempotency_key: str
    capture_method: str = "manual"
    expires_in: int = 1800
    # The buyer asked to keep the card for next time: the PSP attaches a reusable method.
    save_payment_method: bool = False
    # Fraud screening asks for 3-D Secure whatever the card (Stripe's request_three_d_secure
    # "any"): the buyer must pass the issuer's challenge before the card is authorized.
    request_three_d_secure: bool = False


@dataclass(frozen=True)
class CardDisplay:
    """What may be shown of a card: never the number or the CVC."""

    brand: str | None = None
    last4: str | None = None
    fingerprint: str | None = None   # the PSP's keyed fingerprint: equal cards match
    country: str | None = None       # the issuing country, ISO 3166-1 alpha-2
    exp_month: int | None = None
    exp_year: int | None = None


@dataclass(frozen=True)
class ReusableMethod:
    """A card the PSP keeps for later payments: its token and what may be shown of it."""

    # The PSP's payment-method id: whoever holds it with our API key can charge the card, so
    # it is stored only sealed (services.payments.vault) and kept out of reprs and logs.
    token: str = field(repr=False)
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str  # the PSP's keyed fingerprint of the card number


@dataclass(frozen=True)
class ProviderPayment:
    """A PSP's view of a payment, mapped to platform terms."""

    reference: str                    # the PSP's id
    status: PaymentStatus | None      # None: a PSP status we don't know → needs review
    raw_status: str
    amount: int
    currency: str
    amount_authorized: int = 0
    amount_captured: int = 0
    amount_refunded: int = 0
    redirect_url: str | None = None
    embed_url: str | None = None
    decline_code: str | None = None
    failure_message: str | None = None
    fee_amount: int | None = None
    card: CardDisplay = field(default_factory=CardDisplay)
    reusable_method: ReusableMethod | None = None  # when the card was saved or paid saved
    # The PSP's own fraud verdict where it gives one (Stripe's outcome.risk_level):
    # "normal" | "elevated" | "highest"; None when the PSP says nothing.
    risk_level: str | None = None
    # What an embedded PSP form needs to confirm this payment in the buyer's browser (Stripe's
    # PaymentIntent client_secret): handed to the page at render time, never logged or stored.
    client_secret: str | None = field(default=None, repr=False)


class EventKind(str, Enum):
    """What a webhook event is about, whatever the PSP calls it; decides who processes it."""

    PAYMENT = "payment"    # object_id is the PSP's payment reference (Payment.psp_reference)
    PAYOUT = "payout"      # object_id is the PSP's payout reference
    REFUND = "refund"      # object_id is the PSP's refund reference
    DISPUTE = "dispute"    # object_id is the PSP's dispute reference
    OTHER = "other"        # recorded and answered 2xx, nothing else

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook event, in common form."""

    provider: str
    event_id: str
    type: str
    object_id: str | None
    payload: dict
    # What the webhook inbox stores instead of the raw body, when the PSP puts a secret in it
    # that the platform must never keep (Stripe: a PaymentIntent's client_secret).
    inbox_body: str | None = field(default=None, repr=False)
    # What the event is about (decides who processes it), and our own reference for its object
    # when the PSP carries one in the object's metadata: a payment's reference under a Stripe
    # PaymentIntent whose id is not the session id we stored, a payout's idempotency key when
    # the webhook beats the submit job to storing the PSP's id. Set by the adapter only.
    kind: EventKind = EventKind.OTHER
    our_reference: str | None = None
    # Further PSP references the event is about (a Braintree disbursement names the
    # transactions it paid out): a payout event settles every payout of ours among them.
    related: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderRefund:
    """A PSP's view of a refund, in platform terms."""

    reference: str                    # the PSP's refund id
    payment_reference: str            # the PSP's payment the refund belongs to
    status: str                       # "pending" | "succeeded" | "failed" | "needs_review"
    amount: int
    currency: str
    failure_reason: str | None = None


@dataclass(frozen=True)
class ProviderDispute:
    """A PSP's view of a chargeback, in platform terms."""

    reference: str                    # the PSP's dispute id
    payment_reference: str            # the PSP's payment that was disputed
    # "needs_response" | "under_review" | "won" | "lost" | "needs_review" (a status we don't know)
    status: str
    raw_status: str
    amount: int
    currency: str
    fee_amount: int                   # what the PSP withdrew on top of the amount
    fee_returned_if_won: bool         # whether the PSP gives the fee back on a won dispute
    reason: str
    due_by: datetime | None           # evidence deadline (UTC, naive like the rest of the app)
    evidence_submitted: bool = False


@dataclass(frozen=True)
class ProviderPayout:
    """A PSP's view of a payout to a seller's bank."""

    reference: str
    status: str                       # "in_transit" | "paid" | "failed" (platform terms)
    amount: int
    currency: str
    failure_code: str | None = None
    failure_message: str | None = None
    # The rail's own payout to the bank when it is a second object (Stripe Connect: the
    # connected account's po_… after our transfer tr_…, which is `reference`).
    rail_reference: str | None = None


@dataclass(frozen=True)
class SettlementLine:
    """One money movement as a PSP's settlement data reports it, in one shape for every PSP
    (Stripe's balance transaction, a Braintree settled transaction, a sandbox record).

    `type` is one of LINE_TYPES; amounts are signed minor units as the PSP's balance saw them
    (`gross` in, `fee` kept by the PSP, `net` = gross − fee); `source` is the PSP's object (a
    payment, refund, dispute or payout id; None for an adjustment), `payment` the PSP payment it
    belongs to, `payout` the payout involved; `created` is Unix seconds (UTC). For a charge,
    `source` is the payment's reference as the platform keeps it (`Payment.psp_reference`).
    """

    reference: str
    type: str
    source: str | None
    payment: str | None
    gross: int
    fee: int
    net: int
    currency: str
    created: int
    available_on: int | None = None
    payout: str | None = None
    description: str = ""


LINE_TYPES = ("charge", "refund", "refund_failure", "dispute", "dispute_reversal", "fee",
              "payout", "payout_failure", "adjustment")


@dataclass(frozen=True)
class SettlementPage:
    """Part of a day's settlement lines; `cursor` fetches the next part (None: the last)."""

    lines: tuple[SettlementLine, ...]
    cursor: str | None


@dataclass(frozen=True)
class BrowserOrigins:
    """Where a PSP's pages and scripts live as the buyer's browser sees them (scheme://host[:port]):
    what a checkout page routed to this PSP must let through its Content-Security-Policy."""

    hosted: tuple[str, ...] = ()     # pages the buyer is sent to (our form's 303 goes there)
    frames: tuple[str, ...] = ()     # pages our page frames (embedded card form, Drop-in)
    scripts: tuple[str, ...] = ()    # scripts our page loads (stripe.js)
    connects: tuple[str, ...] = ()   # what those scripts fetch from

    @classmethod
    def of(cls, *, hosted=(), frames=(), scripts=(), connects=()) -> BrowserOrigins:
        """From URLs (any path is dropped; empty ones are skipped), each origin listed once."""
        def origins(urls) -> tuple[str, ...]:
            parts = (urlsplit(url) for url in urls if url)
            return tuple(dict.fromkeys(f"{p.scheme}://{p.netloc}" for p in parts))

        return cls(origins(hosted), origins(frames), origins(scripts), origins(connects))


@dataclass(frozen=True)
class CardFields:
    """What our own payment page needs to mount a PSP's card fields (SAQ A-EP): the URL of
    its versioned script and the publishable key the script tokenizes with. Never a secret."""

    script_url: str
    publishable_key: str


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
        """Release an authorization that was not captured."""

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

    def settlement_page(self, day: str, cursor: str | None) -> SettlementPage:
        """One page of the money movements the PSP reports for a UTC day (YYYY-MM-DD), from
        `cursor` (None: the first page). Read-only and repeatable: the same day and cursor give
        the same lines, so an import can stop and resume. Must not move money."""
        raise NotImplementedError(f"{self.name} does not report settlement data")

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
