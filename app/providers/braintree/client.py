"""The Braintree adapter, on the official `braintree` SDK.

Braintree has no payment session and no idempotency keys. The buyer pays on our Drop-in page
or in Hosted Fields on our own card form (mode "fields"), either of which yields a nonce; `authorize_nonce` turns it into a sale (authorize only) whose `order_id`
is our payment's idempotency key, and looks that order_id up before every sale, so a sale whose
answer was lost is found instead of charged twice. Refunds carry their key as order_id the same
way. A card the buyer asked to save is vaulted by the sale (store_in_vault_on_success) and
pays again with its payment method token (`authorize_vaulted`). Captures and voids are naturally idempotent: a repeat is refused by status, and the adapter
answers with the transaction as it stands when that state is the one asked for.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import braintree
from braintree.exceptions import (
    AuthenticationError,
    AuthorizationError,
    NotFoundError,
    TooManyRequestsError,
)
from braintree.exceptions.braintree_error import BraintreeError
from braintree.exceptions.http.connection_error import (
    ConnectionError as BraintreeConnectionError,
)
from braintree.exceptions.http.timeout_error import (
    ConnectTimeoutError,
    ReadTimeoutError,
)

from app.domain.payment_states import PAID, PaymentStatus
from app.providers.base import (
    BrowserOrigins,
    CardFields,
    EventKind,
    PaymentProvider,
    ProviderDispute,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderPayout,
    ProviderRefund,
    ProviderTimeout,
    SessionRequest,
    SettlementPage,
)
from app.providers.braintree import mapping, settlement, webhooks

log = logging.getLogger(__name__)
S = PaymentStatus
E = braintree.ErrorCodes.Transaction
# Braintree's refusals to take evidence because the dispute has left "open".
DISPUTE_NOT_OPEN = frozenset({braintree.ErrorCodes.Dispute.CanOnlyAddEvidenceToOpenDispute,
                              braintree.ErrorCodes.Dispute.CanOnlyFinalizeOpenDispute})
NOT_SUPPORTED = ("Braintree pays a seller only into their sub-merchant account "
                 "(destination merchant_account_id; see docs/providers.md).")


class BraintreeProvider(PaymentProvider):
    """Braintree through its Python SDK (XML over HTTPS)."""

    name = "braintree"

    def __init__(self, gateway: braintree.BraintreeGateway, dispute_fee: int = 1500,
                 dropin_url: str | None = None, hosted_fields_url: str | None = None):
        self.gateway = gateway
        self.dispute_fee = dispute_fee
        self.dropin_url = dropin_url  # the page our Drop-in page frames (BRAINTREE_DROPIN_URL)
        # braintree-web's Hosted Fields script, versioned (BRAINTREE_HOSTED_FIELDS_URL)
        self.hosted_fields_url = hosted_fields_url

    @property
    def timeout(self) -> float:
        """Seconds the SDK waits for Braintree (the resilience guard caps it)."""
        return float(self.gateway.config.timeout)

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self.gateway.config.timeout = seconds

    # --- the buyer pays on our Drop-in page ----------------------------------------------
    def browser_origins(self) -> BrowserOrigins:
        # No hosted page: the card form is the framed Drop-in, which yields a nonce to our
        # page. (Hosted Fields declare their origin through card_fields(): only the card
        # fields page runs their script.)
        return BrowserOrigins.of(frames=[self.dropin_url])

    def supported_modes(self) -> tuple[str, ...]:
        # Braintree has no hosted page: its card form is the Drop-in in a frame on our page,
        # or Hosted Fields in our own form when configured.
        return ("embedded",) + (("fields",) if self.card_fields() else ())

    def card_fields(self) -> CardFields | None:
        # Authorized by a client token made for each page, not a publishable key.
        if not self.hosted_fields_url:
            return None
        return CardFields(self.hosted_fields_url, "", library="braintree")

    def saves_cards(self) -> bool:
        # The sale vaults the card; authorize_vaulted pays with its token.
        return True

    def saved_card_mode(self) -> str:
        # No session to open: the payment waits, like the Drop-in's, for the vaulted sale.
        return "embedded"

    def create_session(self, request: SessionRequest) -> ProviderPayment:
        """No PSP call: Braintree has no session. The payment waits (PROCESSING) for the nonce;
        its PSP reference is empty until the sale gives it a transaction id."""
        return ProviderPayment(reference="", status=S.PROCESSING, raw_status="awaiting_nonce",
                               amount=request.amount, currency=request.currency)

    def client_token(self) -> str:
        """A client token for the Drop-in (authorizes tokenizing a card, nothing else)."""
        return self._call(self.gateway.client_token.generate, write=False)

    def authorize_nonce(self, our_reference: str, nonce: str, amount: int,
                        currency: str, save: bool = False) -> ProviderPayment:
        """Authorize (never settle) `amount` with a Drop-in or Hosted Fields nonce, once per
        our_reference; `save` vaults the card (the answer's reusable_method). A decline raises
        ProviderError(executed=True, decline_code)."""
        options = {"submit_for_settlement": False}
        if save:
            options["store_in_vault_on_success"] = True
        return self._sale(our_reference, amount, currency,
                          {"payment_method_nonce": nonce, "options": options})

    def authorize_vaulted(self, our_reference: str, token: str, amount: int,
                          currency: str) -> ProviderPayment:
        """Authorize `amount` with a vaulted card's payment method token, once per
        our_reference. Never logs the token; a decline raises as authorize_nonce's does."""
        return self._sale(our_reference, amount, currency,
                          {"payment_method_token": token,
                           "options": {"submit_for_settlement": False}})

    def _sale(self, our_reference: str, amount: int, currency: str,
              paid_with: dict) -> ProviderPayment:
        existing = self.find_by_reference(our_reference)
        if existing is not None and existing.status in PAID:
            return existing  # a sale of ours whose answer was lost: never charge twice
        result = self._call(self.gateway.transaction.sale, {
            "amount": mapping.to_amount(amount, currency), "order_id": our_reference,
            **paid_with})
        return self._payment(self._transaction(result))

    # --- the contract ---------------------------------------------------------------------
    def retrieve(self, reference: str) -> ProviderPayment:
        return self._payment(self._find(reference))

    def find_by_reference(self, our_reference: str) -> ProviderPayment | None:
        sales = [t for t in self._search(our_reference) if t.type == "sale"]
        if not sales:
            return None
        # Declined attempts share the order_id with the one that went through: prefer it.
        paid = [t for t in sales if mapping.TRANSACTION_STATUSES.get(t.status) in PAID]
        return self._payment((paid or sales)[-1])

    def authorize_saved(self, reference: str, token: str, idempotency_key: str) -> ProviderPayment:
        # No session holds the amount: services.checkout.nonces pays a vaulted card through
        # authorize_vaulted, with the payment's amount and key.
        raise ProviderError("Braintree pays a saved card through authorize_vaulted",
                            code="unsupported", executed=False)

    def cancel(self, reference: str, idempotency_key: str) -> ProviderPayment:
        """Nothing to cancel at Braintree before a sale; an authorization is never voided here."""
        current = self.retrieve(reference)
        if current.status in PAID:
            raise ProviderError("the payment is authorized; cancel never voids",
                                code="payment_authorized", executed=False)
        if current.status in (S.DECLINED, S.PROCESSING, S.AUTHORIZING):
            return replace(current, status=S.CANCELLED)
        return current

    def capture(self, reference: str, amount: int, idempotency_key: str) -> ProviderPayment:
        current = self.retrieve(reference)
        if current.raw_status in mapping.CAPTURED_STATUSES and current.amount_captured == amount:
            return current  # our earlier capture went through; its answer was lost
        result = self._call(self.gateway.transaction.submit_for_settlement, reference,
                            mapping.to_amount(amount, current.currency))
        return self._payment(self._transaction(result))

    def void(self, reference: str, idempotency_key: str) -> ProviderPayment:
        current = self.retrieve(reference)
        if current.raw_status == "voided":
            return current
        return self._payment(self._transaction(self._call(self.gateway.transaction.void,
                                                          reference)))

    def create_payout(self, amount: int, currency: str, destination: dict, holder_name: str,
                      idempotency_key: str) -> ProviderPayout:
        """A seller's payout: a credit on their sub-merchant account (destination
        {"merchant_account_id"}), which Braintree disburses to the seller's bank; its
        `disbursement` / `disbursement_exception` webhooks settle it. The key is the credit's
        order_id, looked up first, so a credit whose answer was lost is found, not repeated."""
        account = destination.get("merchant_account_id")
        if not account:
            raise ProviderError(NOT_SUPPORTED, code="destination_unsupported", executed=False)
        done = [t for t in self._search(idempotency_key) if t.type == "credit"]
        if done:
            return mapping.to_provider_payout(done[-1])
        result = self._call(self.gateway.transaction.credit, {
            "amount": mapping.to_amount(amount, currency.upper()),
            "merchant_account_id": account, "order_id": idempotency_key})
        return mapping.to_provider_payout(self._transaction(result))

    def retrieve_payout(self, reference: str) -> ProviderPayout:
        return mapping.to_provider_payout(self._find(reference))

    def refund(self, reference: str, amount: int, idempotency_key: str,
               metadata: dict | None = None) -> ProviderRefund:
        done = [t for t in self._search(idempotency_key) if t.type == "credit"]
        if done:
            return mapping.to_provider_refund(done[-1])  # this key's refund already exists
        sale = self._find(reference)
        try:
            result = self._call(self.gateway.transaction.refund, reference, {
                "amount": mapping.to_amount(amount, str(sale.currency_iso_code).upper()),
                "order_id": idempotency_key})
            return mapping.to_provider_refund(self._transaction(result))
        except ProviderError as exc:
            if exc.code == E.CannotRefundUnlessSettled:
                # Braintree refunds only settled sales; settlement comes within a day.
                raise ProviderError("the payment has not settled yet; retry the refund later",
                                    code="not_settled", status=422, retryable=True,
                                    executed=False) from None
            raise

    def retrieve_refund(self, reference: str) -> ProviderRefund:
        return mapping.to_provider_refund(self._find(reference))

    def settlement_page(self, day: str, cursor: str | None) -> SettlementPage:
        return settlement.fetch_page(self, day, cursor)

    def settlement_summary(self, day: str, currency: str) -> list[dict]:
        """The day's settlement batch summary (outside the contract): Braintree's own totals
        per kind, to hold the imported lines against."""
        return settlement.batch_summary(self, day, currency)

    def retrieve_dispute(self, reference: str) -> ProviderDispute:
        dispute = self._call(self.gateway.dispute.find, reference, write=False)
        return mapping.to_provider_dispute(dispute, self.dispute_fee)

    def submit_dispute_evidence(self, reference: str, evidence: dict[str, str],
                                submit: bool = True) -> ProviderDispute:
        """Each field becomes one text evidence ("field: text"); `submit` finalizes. A retry
        skips evidence already attached, so nothing is sent twice."""
        dispute = self._call(self.gateway.dispute.find, reference, write=False)
        attached = {getattr(e, "comment", None) for e in (getattr(dispute, "evidence", None)
                                                          or [])}
        try:
            for field, text in sorted(evidence.items()):
                content = f"{field}: {text}".strip()
                if text and text.strip() and content not in attached:
                    self._check(self._call(self.gateway.dispute.add_text_evidence, reference,
                                           {"content": content}))
            if submit and dispute.status == "open":
                self._check(self._call(self.gateway.dispute.finalize, reference))
        except ProviderError as exc:
            if exc.code in DISPUTE_NOT_OPEN:
                # Accepted, expired or decided at Braintree before its webhook reached us: the
                # contract's code for it, so no one is told to "try again" in vain.
                raise ProviderError("the dispute is no longer open at Braintree",
                                    code="dispute_unexpected_state", status=422,
                                    executed=False) from None
            raise
        return self.retrieve_dispute(reference)

    def event_kind(self, event_type: str) -> EventKind:
        return mapping.event_kind(event_type)

    def stored_event(self, event_id: str, event_type: str, object_id: str | None,
                     payload: dict) -> ProviderEvent:
        return mapping.to_event(event_id, event_type, object_id, payload)

    def parse_webhook(self, raw_body: bytes, headers) -> ProviderEvent:
        event = webhooks.parse(self.gateway, raw_body)
        if event.type == "disbursement_exception":
            log.error("Braintree disbursement exception %s: a disbursement to a bank failed "
                      "(a seller's payout among its transactions goes back to their balance)",
                      event.object_id)
        return event

    # --- SDK calls ------------------------------------------------------------------------
    def _find(self, transaction_id: str):
        if not transaction_id:
            raise ProviderError("no Braintree transaction yet", code="resource_missing",
                                executed=False)
        return self._call(self.gateway.transaction.find, transaction_id, write=False)

    def _search(self, order_id: str) -> list:
        found = self._call(lambda: list(self.gateway.transaction.search(
            braintree.TransactionSearch.order_id == order_id).items), write=False)
        return sorted(found, key=lambda t: t.created_at)

    def _payment(self, txn) -> ProviderPayment:
        """Map a sale, counting its live refunds (Braintree lists only their ids)."""
        refunded = 0
        for refund_id in getattr(txn, "refund_ids", None) or []:
            credit = self._find(refund_id)
            if credit.status in mapping.LIVE_REFUND:
                refunded += mapping.from_amount(credit.amount, str(txn.currency_iso_code).upper())
        return mapping.to_provider_payment(txn, refunded)

    def _transaction(self, result):
        """The transaction of a successful result; a 422 becomes a ProviderError."""
        self._check(result)
        return result.transaction

    @staticmethod
    def _check(result) -> None:
        if result is None or getattr(result, "is_success", True):
            return
        txn = getattr(result, "transaction", None)
        if txn is not None and txn.status in ("processor_declined", "gateway_rejected", "failed"):
            code = mapping.decline_code(txn)
            raise ProviderError(f"declined: {txn.status}", code=str(txn.status), status=422,
                                executed=True, decline_code=code)
        errors = result.errors.deep_errors
        code = errors[0].code if errors else "validation_error"
        raise ProviderError(result.message or "Braintree refused the request", code=code,
                            status=422, executed=False)

    @staticmethod
    def _call(function, *args, write: bool = True):
        """Run an SDK call, translating its exceptions into the contract's errors.
        `write`: whether the call can change anything at Braintree (decides `executed`)."""
        unknown = None if write else False
        try:
            return function(*args)
        except ConnectTimeoutError as exc:
            raise ProviderError(f"Braintree unreachable: {exc}", code="connect_timeout",
                                retryable=True, executed=False) from None
        except ReadTimeoutError as exc:
            if not write:
                raise ProviderError(f"Braintree did not answer: {exc}", code="timeout",
                                    retryable=True, executed=False) from None
            raise ProviderTimeout(f"Braintree did not answer: {exc}") from None
        except BraintreeConnectionError as exc:
            refused = "refused" in str(exc).lower()
            raise ProviderError(f"Braintree connection failed: {exc}", code="connection_error",
                                retryable=True, executed=False if refused else unknown) from None
        except TooManyRequestsError:
            raise ProviderError("Braintree rate limit", code="rate_limited", status=429,
                                retryable=True, executed=False) from None
        except NotFoundError as exc:
            raise ProviderError(str(exc) or "not found at Braintree", code="resource_missing",
                                status=404, executed=False) from None
        except (AuthenticationError, AuthorizationError) as exc:
            raise ProviderError(f"Braintree refused our credentials: {type(exc).__name__}",
                                code="authentication", status=401, executed=False) from None
        except BraintreeError as exc:
            # 500/503/504, 408 and any other status: the request may have been acted on.
            raise ProviderError(f"Braintree error: {type(exc).__name__} {exc}",
                                code="api_error", retryable=True, executed=unknown) from None
