"""The plain data every PSP adapter speaks: what it is asked, and what it answers with.

Frozen dataclasses only, no behaviour beyond small readings of themselves; the adapters map
each PSP's objects into these (app/providers/base.py holds the contract that uses them).
"""
from __future__ import annotations

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
    account: str | None = None  # the PSP account it was booked to (Braintree merchant account)


LINE_TYPES = ("charge", "refund", "refund_failure", "dispute", "dispute_reversal", "fee",
              "payout", "payout_failure", "transfer_reversal", "conversion", "adjustment")


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
    # Which JavaScript API the script speaks, so our page runs the matching glue: "holdfast"
    # (the sandbox's HoldfastFields), "stripe" (Stripe.js, the split Card Element) or
    # "braintree" (Hosted Fields, authorized by a client token made for each page).
    library: str = "holdfast"
