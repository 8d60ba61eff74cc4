"""Disputes: opened by the card's bank, answered by updating them with evidence."""
from __future__ import annotations

import time

from tests.fakes.stripe.forms import as_bool
from tests.fakes.stripe.payments import expand
from tests.fakes.stripe.state import DISPUTE_FEE, FakeStripe, invalid

# Stripe's text evidence fields; the file fields (receipt, customer_communication,
# refund_policy, shipping_documentation, …) take File ids, which this fake does not model.
EVIDENCE_FIELDS = ("access_activity_log", "billing_address", "cancellation_policy_disclosure",
                   "cancellation_rebuttal", "customer_email_address", "customer_name",
                   "customer_purchase_ip", "duplicate_charge_explanation", "duplicate_charge_id",
                   "product_description", "refund_policy_disclosure",
                   "refund_refusal_explanation", "service_date", "shipping_address",
                   "shipping_carrier", "shipping_date", "shipping_tracking_number",
                   "uncategorized_text")
FILE_FIELDS = ("cancellation_policy", "customer_communication", "customer_signature",
               "duplicate_charge_documentation", "receipt", "refund_policy", "service_documentation",
               "shipping_documentation", "uncategorized_file")
RESPONDABLE = ("needs_response", "warning_needs_response")


def open_dispute(fake: FakeStripe, charge: dict, reason: str, inquiry: bool = False) -> dict:
    """The bank disputes a captured charge: funds and the dispute fee leave the balance."""
    now = int(time.time())
    amount = charge["amount_captured"]
    dispute = fake.put({
        "id": fake.new_id("dp"), "object": "dispute", "amount": amount,
        "currency": charge["currency"], "charge": charge["id"],
        "payment_intent": charge["payment_intent"], "reason": reason,
        "status": "warning_needs_response" if inquiry else "needs_response",
        "evidence": {name: None for name in EVIDENCE_FIELDS + FILE_FIELDS},
        "evidence_details": {"due_by": now + 7 * 86400, "has_evidence": False,
                             "past_due": False, "submission_count": 0},
        "balance_transactions": [], "is_charge_refundable": False, "metadata": {},
        "created": now, "livemode": False})
    if not inquiry:  # an inquiry moves no money until it becomes a chargeback
        dispute["balance_transactions"].append(fake.balance_transaction(
            -amount, charge["currency"], dispute["id"], "adjustment", DISPUTE_FEE))
    charge["disputed"] = True
    fake.emit("charge.dispute.created", dispute)
    if not inquiry:
        fake.emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


def close_dispute(fake: FakeStripe, dispute: dict, outcome: str) -> dict:
    """The bank decides; a win reinstates the amount and (Stripe's stated policy) the fee."""
    if outcome not in ("won", "lost"):
        raise invalid("outcome must be won or lost", param="outcome")
    if dispute["status"] in ("won", "lost"):
        raise invalid(f"This dispute is already closed ({dispute['status']}).")
    dispute["status"] = outcome
    if outcome == "won" and dispute["balance_transactions"]:
        dispute["balance_transactions"].append(fake.balance_transaction(
            dispute["amount"], dispute["currency"], dispute["id"], "adjustment",
            -DISPUTE_FEE))
        fake.emit("charge.dispute.funds_reinstated", dispute)
    fake.emit("charge.dispute.closed", dispute)
    return dispute


def register(app, fake: FakeStripe) -> None:
    """The dispute routes."""
    from tests.fakes.stripe.app import api_route

    @api_route(app, fake, "/v1/disputes/<did>")
    def get_dispute(params, key, did):
        return expand(fake, fake.get(did, "dispute"), params.get("expand"))

    @api_route(app, fake, "/v1/disputes/<did>", methods=("POST",))
    def update_dispute(params, key, did):
        dispute = fake.get(did, "dispute")
        if dispute["status"] not in RESPONDABLE:
            raise invalid(f"This dispute is already {dispute['status']} and cannot be "
                          f"updated.", code="dispute_already_submitted"
                          if dispute["status"] == "under_review" else None)
        evidence = params.get("evidence") or {}
        unknown = sorted(set(evidence) - set(EVIDENCE_FIELDS + FILE_FIELDS))
        if unknown:
            raise invalid(f"Received unknown parameter: evidence[{unknown[0]}]",
                          param=f"evidence[{unknown[0]}]")
        not_files = sorted(n for n in set(evidence) & set(FILE_FIELDS)
                           if not str(evidence[n]).startswith("file_"))
        if not_files:
            raise invalid(f"Invalid evidence[{not_files[0]}]: must be the id of an uploaded "
                          "file (file_…).", param=f"evidence[{not_files[0]}]")
        dispute["evidence"].update(evidence)
        dispute["metadata"].update(params.get("metadata") or {})
        details = dispute["evidence_details"]
        details["has_evidence"] = any(dispute["evidence"].values())
        # Stripe submits by default when `submit` is left out.
        if as_bool(params.get("submit", "true")):
            details["submission_count"] += 1
            dispute["status"] = ("under_review" if dispute["status"] == "needs_response"
                                 else "warning_under_review")
        fake.emit("charge.dispute.updated", dispute, key)
        return expand(fake, dispute, params.get("expand"))
