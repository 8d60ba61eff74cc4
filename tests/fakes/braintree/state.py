"""The fake Braintree gateway's memory: transactions, nonces, disputes, faults and counters.

Everything is in-process and guarded by one lock: the fake serves threaded requests and the
tests read the counters from another thread.
"""
from __future__ import annotations

import secrets
import threading
from base64 import encodebytes
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import braintree
from braintree.util.crypto import Crypto

# Braintree's documented sandbox nonces, plus the cards our stand-in Drop-in accepts.
VISA = {"bin": "411111", "last_4": "1111", "card_type": "Visa", "expiration_month": "12",
        "expiration_year": "2030", "unique_number_identifier": "0f5c7b6a1e4d2c3b9a8f7e6d5c4b3a21",
        "country_of_issuance": "USA"}
DISPUTED_VISA = {**VISA, "bin": "402389", "last_4": "8028",
                 "unique_number_identifier": "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"}
KNOWN_NONCES = {
    "fake-valid-nonce": {"card": VISA},
    "fake-valid-visa-nonce": {"card": VISA},
    "fake-processor-declined-visa-nonce": {"card": VISA, "decline": ("2000", "Do Not Honor")},
    "fake-processor-failure-visa-nonce": {"card": VISA, "failed": True},
    "fake-gateway-rejected-fraud-nonce": {"card": VISA, "rejected": "fraud"},
    # Not a Braintree nonce: a Visa whose settled sale the card's bank disputes (Braintree's
    # sandbox does this for card 4023 8984 9398 8028).
    "fake-disputed-visa-nonce": {"card": DISPUTED_VISA, "dispute": True},
}
# Test cards typed into the stand-in Drop-in → the nonce behaviour they stand for.
CARDS = {
    "4111111111111111": "fake-valid-visa-nonce",
    "4242424242424242": "fake-valid-visa-nonce",
    "4000111111111115": "fake-processor-declined-visa-nonce",
    "4023898493988028": "fake-disputed-visa-nonce",
    "4000000000000259": "fake-disputed-visa-nonce",  # the sandbox PSP's dispute card
}
FAULTS = ("5xx_before", "5xx_after", "timeout_after", "409", "429")


def utc_now() -> datetime:
    """Naive UTC, as the gateway's XML carries it."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Gateway:
    """All the state of one fake merchant."""

    merchant_id: str
    public_key: str
    private_key: str
    transactions: dict[str, dict] = field(default_factory=dict)
    nonces: dict[str, dict] = field(default_factory=dict)        # tokenized by the Drop-in
    used_nonces: set[str] = field(default_factory=set)
    disputes: dict[str, dict] = field(default_factory=dict)
    fingerprints: set[str] = field(default_factory=set)          # issued client tokens
    vault: dict[str, dict] = field(default_factory=dict)         # payment method token → card
    executions: Counter = field(default_factory=Counter)         # order_id → executed writes
    faults: list[str] = field(default_factory=list)
    timeout_seconds: float = 6.0    # longer than the adapter's timeout in tests
    currency: str = "EUR"           # the merchant account's currency
    # Settle at once on submit_for_settlement (Braintree's sandbox takes hours; refunds need it).
    instant_settlement: bool = True
    # Transactions the settled_at search leaves out (a report that lost a page): the batch
    # summary still counts them.
    missing_from_search: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- test controls -------------------------------------------------------------------
    def fail_next(self, fault: str) -> None:
        """Make the next API call fail in the given way (see FAULTS)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        with self.lock:
            self.faults.append(fault)

    def take_fault(self) -> str | None:
        """The fault for this call, if one is pending."""
        with self.lock:
            return self.faults.pop(0) if self.faults else None

    def count(self, order_id: str | None) -> None:
        """One more executed write for an order_id (our idempotency key)."""
        if order_id:
            with self.lock:
                self.executions[order_id] += 1

    # --- objects --------------------------------------------------------------------------
    def new_id(self) -> str:
        """A Braintree-looking id: 8 lower-case letters and digits."""
        return secrets.token_hex(4)

    def issue_nonce(self, card_nonce: str) -> str:
        """A single-use nonce standing for one of the known test nonces."""
        nonce = f"tokencc_{secrets.token_hex(8)}"
        with self.lock:
            self.nonces[nonce] = KNOWN_NONCES[card_nonce]
        return nonce

    def redeem(self, nonce: str) -> dict | None:
        """The behaviour of a nonce, consuming a tokenized one; None if unknown or used."""
        with self.lock:
            if nonce in KNOWN_NONCES:
                return KNOWN_NONCES[nonce]
            if nonce in self.used_nonces or nonce not in self.nonces:
                return None
            self.used_nonces.add(nonce)
            return self.nonces.pop(nonce)

    def open_dispute(self, transaction_id: str) -> dict:
        """The card's bank disputes a transaction in full."""
        with self.lock:
            txn = self.transactions[transaction_id]
            dispute = {
                "id": self.new_id(), "status": "open", "kind": "chargeback", "reason": "fraud",
                "amount": txn["amount"], "amount_disputed": txn["amount"],
                "currency_iso_code": txn["currency_iso_code"],
                "received_date": utc_now().date(), "reply_by_date": utc_now().date() + timedelta(days=7),
                "created_at": utc_now(), "updated_at": utc_now(),
                "transaction": {"id": txn["id"], "amount": txn["amount"],
                                "order_id": txn.get("order_id") or ""},
                "evidence": [],
                # When each status moved money (Braintree's effective date): opening debits
                # the disputed amount, a win credits it back.
                "status_history": [{"status": "open", "timestamp": utc_now(),
                                    "effective_date": utc_now().date()}],
            }
            self.disputes[dispute["id"]] = dispute
            txn.setdefault("disputes", []).append(dispute["id"])
            return dispute

    def close_dispute(self, dispute_id: str, outcome: str) -> dict:
        """The bank decides: "won" or "lost"."""
        if outcome not in ("won", "lost"):
            raise ValueError("outcome is won or lost")
        with self.lock:
            dispute = self.disputes[dispute_id]
            dispute["status"] = outcome
            dispute["amount_won"] = dispute["amount_disputed"] if outcome == "won" else "0.00"
            dispute["updated_at"] = utc_now()
            dispute.setdefault("status_history", []).append(
                {"status": outcome, "timestamp": utc_now(), "effective_date": utc_now().date()})
            return dispute

    def notification(self, kind: str, subject_id: str) -> bytes:
        """A webhook form body as Braintree would POST it, signed with this merchant's keys
        (the SDK's sample notification: dispute_opened/won/lost, transaction_settled,
        transaction_settlement_declined, disbursement, disbursement_exception, …)."""
        gateway = braintree.BraintreeGateway(braintree.Configuration(
            braintree.Environment.Sandbox, self.merchant_id, self.public_key, self.private_key))
        sample = gateway.webhook_testing.sample_notification(kind, subject_id)
        return urlencode({"bt_signature": sample["bt_signature"],
                          "bt_payload": sample["bt_payload"].decode()}).encode()

    def disburse(self, transaction_ids: list[str], success: bool = True,
                 exception_message: str = "bank_rejected") -> bytes:
        """Braintree pays these settled transactions out to the bank (or fails to: a
        disbursement exception); each transaction gets its disbursement details, and the
        answer is the signed `disbursement` / `disbursement_exception` webhook form body."""
        today = utc_now().date()
        disbursement_id = self.new_id()
        with self.lock:
            txns = [self.transactions[t] for t in transaction_ids]
            for txn in txns:
                txn["disbursement_details"] = {
                    "disbursement_date": today, "settlement_amount": txn["amount"],
                    "settlement_currency_iso_code": txn["currency_iso_code"],
                    "funds_held": not success, "success": success}
                txn["updated_at"] = utc_now()
        total = sum((Decimal(t["amount"]) for t in txns), Decimal(0))
        items = "".join(f"<item>{t}</item>" for t in transaction_ids)
        account = txns[0].get("merchant_account_id", self.merchant_id) if txns else ""
        failure = "" if success else (f"<exception-message>{exception_message}"
                                      "</exception-message><follow-up-action>"
                                      "update_funding_information</follow-up-action>")
        subject = (f"<disbursement><id>{disbursement_id}</id>"
                   f"<transaction-ids type=\"array\">{items}</transaction-ids>"
                   f"<success type=\"boolean\">{str(success).lower()}</success>"
                   "<retry type=\"boolean\">false</retry><merchant-account>"
                   f"<id>{account}</id><currency-iso-code>{self.currency}</currency-iso-code>"
                   "<sub-merchant-account type=\"boolean\">true</sub-merchant-account>"
                   "<status>active</status></merchant-account>"
                   f"<amount>{total:.2f}</amount>"
                   f"<disbursement-date type=\"date\">{today.isoformat()}</disbursement-date>"
                   f"{failure}</disbursement>")
        kind = "disbursement" if success else "disbursement_exception"
        stamp = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
        return self.signed_notification(
            f"<notification><timestamp type=\"datetime\">{stamp}</timestamp>"
            f"<kind>{kind}</kind><subject>{subject}</subject></notification>")

    def signed_notification(self, xml_text: str) -> bytes:
        """A webhook form body for this XML, signed as Braintree signs (public|HMAC-SHA1)."""
        payload = encodebytes(xml_text.encode())
        signature = f"{self.public_key}|{Crypto.sha1_hmac_hash(self.private_key, payload)}"
        return urlencode({"bt_signature": signature, "bt_payload": payload.decode()}).encode()

    def settle_facts(self, txn: dict) -> None:
        """What a settled transaction shows: its history and disbursement details (the
        merchant's funding of that day). Called under the lock."""
        now = utc_now()
        txn["status"] = "settled"
        txn.setdefault("status_history", []).append(
            {"status": "settled", "timestamp": now, "amount": txn["amount"]})
        txn["disbursement_details"] = {
            "disbursement_date": now.date().isoformat(), "settlement_amount": txn["amount"],
            "settlement_currency_iso_code": txn["currency_iso_code"],
            "settlement_currency_exchange_rate": "1", "funds_held": False, "success": True}

    def settle_batch(self) -> int:
        """Braintree's nightly batch: every sale or credit submitted for settlement settles."""
        with self.lock:
            due = [t for t in self.transactions.values()
                   if t["status"] == "submitted_for_settlement"]
            for txn in due:
                self.settle_facts(txn)
        return len(due)

    def refunded_total(self, txn: dict) -> Decimal:
        """What has been refunded of a sale so far."""
        return sum((Decimal(self.transactions[r]["amount"]) for r in txn.get("refund_ids", [])),
                   Decimal(0))
