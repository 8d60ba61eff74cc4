"""A small Flask app speaking the Braintree gateway's XML API, for the official SDK.

Covers what Holdfast's adapter calls: transaction sale (no settlement), submit_for_settlement
(full or partial), void, refund (full or partial), find, search by order_id, client tokens,
disputes (find, text evidence, finalize). Replies are built with the SDK's own
XmlUtil.xml_from_dict, leaving out empty sub-objects (the SDK trips over them); validation
errors and declines answer 422 <api-error-response> as the SDK expects.
"""
from __future__ import annotations

import base64
import json
import secrets
import time
from decimal import Decimal, InvalidOperation
from functools import wraps

from braintree.error_codes import ErrorCodes
from braintree.util.xml_util import XmlUtil
from flask import Blueprint, Response, current_app, request

from tests.fakes.braintree.state import Gateway, utc_now

api = Blueprint("braintree_api", __name__, url_prefix="/merchants/<merchant_id>")
E = ErrorCodes.Transaction
SETTLED = ("settled", "settling", "settlement_confirmed")


def gw() -> Gateway:
    """The fake merchant of this app."""
    return current_app.config["BRAINTREE_GATEWAY"]


def xml(payload: dict, status: int = 200) -> Response:
    """An XML reply the SDK parses."""
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + XmlUtil.xml_from_dict(payload)
    return Response(body, status, content_type="application/xml; charset=utf-8")


def api_error(message: str, code: str | None = None, attribute: str = "base",
              scope: str = "transaction", transaction: dict | None = None) -> Response:
    """422 <api-error-response>: a validation error, or a decline carrying its transaction."""
    errors = [{"code": code, "attribute": attribute, "message": message}] if code else []
    body = {"errors": {scope: {"errors": errors}, "errors": []}, "message": message,
            "params": {}}
    if transaction is not None:
        body["transaction"] = transaction_view(transaction)
    return xml({"api_error_response": body}, 422)


def gateway_call(view=None, *, write: bool = True):
    """Authenticate like Braintree (Basic public:private), then apply any injected fault.
    Faults hit the next call that can change something (`write`): reads and searches pass,
    so a test's fault lands on the sale, capture or refund it is about."""
    if view is None:
        return lambda v: gateway_call(v, write=write)

    @wraps(view)
    def wrapper(merchant_id, **kwargs):
        fake = gw()
        auth = request.authorization
        if (merchant_id != fake.merchant_id or auth is None
                or (auth.username, auth.password) != (fake.public_key, fake.private_key)):
            return Response("", 401)
        fault = fake.take_fault() if write else None
        if fault == "5xx_before":
            return Response("", 500)
        if fault in ("409", "429"):
            return Response("", int(fault))
        response = view(**kwargs)
        if fault == "5xx_after":
            return Response("", 500)
        if fault == "timeout_after":
            time.sleep(fake.timeout_seconds)  # executed; the answer arrives too late
        return response
    return wrapper


def body() -> dict:
    """The request's XML body as a dict (empty when there is none)."""
    raw = request.get_data()
    return XmlUtil.dict_from_xml(raw) if raw.strip() else {}


def amount_of(text) -> Decimal | None:
    """A positive decimal amount, or None when it is not one."""
    try:
        value = Decimal(str(text))
    except (InvalidOperation, TypeError):
        return None
    return value if value > 0 and value == value.quantize(Decimal("0.001")) else None


def transaction_view(txn: dict) -> dict:
    """A transaction as the gateway shows it, without empty sub-objects."""
    view = {k: v for k, v in txn.items()
            if v not in (None, "", [], {}) and k != "disputes" and not k.startswith("_")}
    view["refund_ids"] = list(txn.get("refund_ids", []))
    if txn.get("disputes"):
        view["disputes"] = [dispute_view(gw().disputes[d]) for d in txn["disputes"]]
    return view


def dispute_view(dispute: dict) -> dict:
    """A dispute as the gateway shows it."""
    return {k: v for k, v in dispute.items() if v not in (None, "")}


def _find(transaction_id: str) -> dict | None:
    return gw().transactions.get(transaction_id)


@api.post("/transactions")
@gateway_call
def create_transaction():
    """transaction.sale: authorize a nonce (submit_for_settlement false)."""
    fake = gw()
    params = body().get("transaction") or {}
    amount = amount_of(params.get("amount"))
    if amount is None:
        return api_error("Amount is invalid.", E.AmountIsInvalid, "amount")
    if params.get("type") == "credit":
        return _credit(fake, params, amount)
    if params.get("payment_method_token"):
        # A vaulted card pays again (the vault keeps what its nonce stood for).
        behaviour = fake.vault.get(str(params["payment_method_token"]))
        if behaviour is None:
            return api_error("Payment method token is invalid.",
                             E.PaymentMethodTokenIsInvalid, "payment_method_token")
    else:
        behaviour = fake.redeem(str(params.get("payment_method_nonce") or ""))
        if behaviour is None:
            return api_error("Unknown or expired payment_method_nonce.",
                             E.PaymentMethodNonceUnknown, "payment_method_nonce")
    now = utc_now()
    txn = {"id": fake.new_id(), "type": "sale", "status": "authorized",
           "amount": f"{amount:.2f}", "currency_iso_code": fake.currency,
           "order_id": params.get("order_id") or "", "merchant_account_id": fake.merchant_id,
           "created_at": now, "updated_at": now, "processor_response_code": "1000",
           "processor_response_text": "Approved", "credit_card": dict(behaviour["card"]),
           "refund_ids": [], "disputes": [], "_dispute_on_settle": bool(behaviour.get("dispute"))}
    # Braintree's sandbox declines amounts 2000.00–2999.99 with that processor response code.
    declined = behaviour.get("decline") or (
        (str(int(amount)), "Processor Declined") if 2000 <= amount < 3000 else None)
    if declined:
        txn.update(status="processor_declined", processor_response_code=declined[0],
                   processor_response_text=declined[1])
    elif behaviour.get("rejected"):
        txn.update(status="gateway_rejected", gateway_rejection_reason=behaviour["rejected"])
    elif behaviour.get("failed"):
        txn.update(status="failed", processor_response_code="3000",
                   processor_response_text="Processor Network Unavailable - Try Again")
    if params.get("payment_method_token"):
        txn["credit_card"]["token"] = str(params["payment_method_token"])
    elif txn["status"] == "authorized" and str(
            (params.get("options") or {}).get("store_in_vault_on_success")).lower() == "true":
        # Braintree vaults the card under a new customer and answers its token on the card.
        token = fake.new_id() + fake.new_id()[:2]
        with fake.lock:
            fake.vault[token] = {k: v for k, v in behaviour.items() if k != "decline"}
        txn["credit_card"]["token"] = token
        txn["customer_details"] = {"id": fake.new_id()}
    with fake.lock:
        fake.transactions[txn["id"]] = txn
    fake.count(txn["order_id"])
    if txn["status"] != "authorized":
        return api_error(txn["processor_response_text"], transaction=txn)
    return xml({"transaction": transaction_view(txn)}, 201)


def _credit(fake: Gateway, params: dict, amount: Decimal) -> Response:
    """A credit to a sub-merchant account (a seller's payout), disbursed later by Braintree
    (Gateway.disburse); settled at once like the fake's captures."""
    account = str(params.get("merchant_account_id") or "")
    if not account:
        return api_error("Merchant account ID is required.",
                         E.MerchantAccountIdIsInvalid, "merchant_account_id")
    now = utc_now()
    txn = {"id": fake.new_id(), "type": "credit",
           "status": "settled" if fake.instant_settlement else "submitted_for_settlement",
           "amount": f"{amount:.2f}", "currency_iso_code": fake.currency,
           "order_id": params.get("order_id") or "", "merchant_account_id": account,
           "created_at": now, "updated_at": now, "refund_ids": []}
    with fake.lock:
        fake.transactions[txn["id"]] = txn
    fake.count(txn["order_id"])
    return xml({"transaction": transaction_view(txn)}, 201)


@api.get("/transactions/<transaction_id>")
@gateway_call(write=False)
def find_transaction(transaction_id: str):
    """transaction.find."""
    txn = _find(transaction_id)
    return xml({"transaction": transaction_view(txn)}) if txn else Response("", 404)


@api.put("/transactions/<transaction_id>/submit_for_settlement")
@gateway_call
def submit_for_settlement(transaction_id: str):
    """Capture: all of the authorization, or less (the rest is released)."""
    fake = gw()
    txn = _find(transaction_id)
    if txn is None:
        return Response("", 404)
    params = body().get("transaction") or {}
    with fake.lock:
        if txn["status"] != "authorized":
            return api_error("Cannot submit for settlement unless status is authorized.",
                             E.CannotSubmitForSettlement)
        amount = (amount_of(params["amount"]) if params.get("amount") not in (None, "")
                  else Decimal(txn["amount"]))
        if amount is None or amount > Decimal(txn["amount"]):
            return api_error("Settlement amount is too large.", E.SettlementAmountIsTooLarge,
                             "amount")
        # The sandbox settles at once here so refunds can follow a capture in one test.
        txn.update(amount=f"{amount:.2f}", status="submitted_for_settlement",
                   updated_at=utc_now())
        if fake.instant_settlement:
            fake.settle_facts(txn)
    fake.count(f"capture:{txn['id']}")
    if txn.get("_dispute_on_settle") and txn["status"] == "settled":
        fake.open_dispute(txn["id"])
    return xml({"transaction": transaction_view(txn)})


@api.put("/transactions/<transaction_id>/void")
@gateway_call
def void(transaction_id: str):
    """Release an authorization (or withdraw an unsettled capture)."""
    fake = gw()
    txn = _find(transaction_id)
    if txn is None:
        return Response("", 404)
    with fake.lock:
        if txn["status"] not in ("authorized", "submitted_for_settlement"):
            return api_error("Transaction can only be voided if status is authorized, "
                             "submitted_for_settlement, or settlement_pending.", E.CannotBeVoided)
        txn.update(status="voided", updated_at=utc_now())
    fake.count(f"void:{txn['id']}")
    return xml({"transaction": transaction_view(txn)})


@api.post("/transactions/<transaction_id>/refund")
@gateway_call
def refund(transaction_id: str):
    """A credit transaction against a settled sale (full, or the amount given)."""
    fake = gw()
    txn = _find(transaction_id)
    if txn is None:
        return Response("", 404)
    params = body().get("transaction") or {}
    with fake.lock:
        if txn["type"] != "sale":
            return api_error("Cannot refund a credit.", E.CannotRefundCredit)
        if txn["status"] not in SETTLED:
            return api_error("Cannot refund a transaction unless it is settled.",
                             E.CannotRefundUnlessSettled)
        remaining = Decimal(txn["amount"]) - fake.refunded_total(txn)
        if remaining <= 0:
            return api_error("Transaction has already been fully refunded.",
                             E.HasAlreadyBeenRefunded)
        amount = (amount_of(params["amount"]) if params.get("amount") not in (None, "")
                  else remaining)
        if amount is None or amount > remaining:
            return api_error("Refund amount is too large.", E.RefundAmountIsTooLarge, "amount")
        now = utc_now()
        credit = {"id": fake.new_id(), "type": "credit", "status": "submitted_for_settlement",
                  "amount": f"{amount:.2f}", "currency_iso_code": txn["currency_iso_code"],
                  "order_id": params.get("order_id") or "", "refunded_transaction_id": txn["id"],
                  "merchant_account_id": fake.merchant_id, "created_at": now, "updated_at": now,
                  "credit_card": dict(txn["credit_card"]), "refund_ids": []}
        fake.transactions[credit["id"]] = credit
        txn["refund_ids"].append(credit["id"])
    fake.count(credit["order_id"])
    return xml({"transaction": transaction_view(credit)}, 201)


def _settled_at(txn: dict):
    return next((e["timestamp"] for e in reversed(txn.get("status_history") or [])
                 if e["status"] == "settled"), None)


def _matches(txn: dict, criteria: dict) -> bool:
    order = (criteria.get("order_id") or {}).get("is")
    ids = criteria.get("ids")
    settled = criteria.get("settled_at")
    if settled is not None and txn["id"] in gw().missing_from_search:
        return False
    if settled is not None:
        at = _settled_at(txn)
        if at is None or (settled.get("min") and at < settled["min"].replace(tzinfo=None)) \
                or (settled.get("max") and at > settled["max"].replace(tzinfo=None)):
            return False
    return (order is None or txn.get("order_id") == order) and (ids is None or txn["id"] in ids)


@api.post("/settlement_batch_summary")
@gateway_call(write=False)
def settlement_batch_summary():
    """Settled sales and credits of one day, per kind, card type and merchant account."""
    day = str((body().get("settlement_batch_summary") or {}).get("settlement_date") or "")
    groups: dict[tuple, list] = {}
    with gw().lock:
        for txn in gw().transactions.values():
            at = _settled_at(txn)
            if at is None or at.date().isoformat() != day:
                continue
            key = (txn["type"], txn["merchant_account_id"],
                   (txn.get("credit_card") or {}).get("card_type") or "Visa")
            groups.setdefault(key, []).append(Decimal(txn["amount"]))
    records = [{"kind": kind, "merchant_account_id": account, "card_type": card,
                "count": str(len(amounts)), "amount_settled": f"{sum(amounts):.2f}"}
               for (kind, account, card), amounts in sorted(groups.items())]
    return xml({"settlement_batch_summary": {"records": records}})


@api.post("/disputes/advanced_search")
@gateway_call(write=False)
def search_disputes():
    """dispute.search by effective_date (a status that moved money on those days), one page."""
    criteria = body().get("search") or {}
    effective = criteria.get("effective_date") or {}
    low, high = str(effective.get("min") or "")[:10], str(effective.get("max") or "9999")[:10]
    with gw().lock:
        found = [dispute_view(d) for d in gw().disputes.values()
                 if any(low <= str(h["effective_date"])[:10] <= high
                        for h in d.get("status_history") or [])]
    return xml({"disputes": {"page_size": 50, "total_items": len(found),
                             "current_page_number": 1, "dispute": found}})


@api.post("/transactions/advanced_search_ids")
@gateway_call(write=False)
def search_ids():
    """Search step one: the ids matching (order_id "is", ids "in")."""
    criteria = body().get("search") or {}
    with gw().lock:
        ids = [t["id"] for t in sorted(gw().transactions.values(), key=lambda t: t["created_at"])
               if _matches(t, criteria)]
    return xml({"search_results": {"page_size": 50, "ids": ids}})


@api.post("/transactions/advanced_search")
@gateway_call(write=False)
def search():
    """Search step two: the transactions for a page of ids."""
    criteria = body().get("search") or {}
    with gw().lock:
        found = [transaction_view(t) for t in gw().transactions.values() if _matches(t, criteria)]
    return xml({"credit_card_transactions": {"transaction": found}})


@api.post("/client_token")
@gateway_call(write=False)
def client_token():
    """A client token for the Drop-in: base64 JSON with an authorization fingerprint."""
    fake = gw()
    fingerprint = secrets.token_hex(16)
    with fake.lock:
        fake.fingerprints.add(fingerprint)
    root = request.host_url.rstrip("/")
    token = {"version": 2, "authorizationFingerprint": fingerprint, "environment": "fake",
             "merchantId": fake.merchant_id, "clientApiUrl": f"{root}/client_api",
             "configUrl": f"{root}/merchants/{fake.merchant_id}/client_api/v1/configuration"}
    value = base64.b64encode(json.dumps(token).encode()).decode()
    return xml({"client_token": {"value": value}}, 201)


@api.get("/disputes/<dispute_id>")
@gateway_call(write=False)
def find_dispute(dispute_id: str):
    """dispute.find."""
    dispute = gw().disputes.get(dispute_id)
    return xml({"dispute": dispute_view(dispute)}) if dispute else Response("", 404)


@api.post("/disputes/<dispute_id>/evidence")
@gateway_call
def add_evidence(dispute_id: str):
    """dispute.add_text_evidence: only while the dispute is open."""
    dispute = gw().disputes.get(dispute_id)
    if dispute is None:
        return Response("", 404)
    params = body().get("evidence") or {}
    if dispute["status"] != "open":
        return api_error("Evidence can only be attached to disputes that are in an Open state",
                         ErrorCodes.Dispute.CanOnlyAddEvidenceToOpenDispute, scope="dispute")
    evidence = {"id": gw().new_id(), "comment": str(params.get("comments") or ""),
                "category": params.get("category") or "", "created_at": utc_now()}
    with gw().lock:
        dispute["evidence"].append(evidence)
    return xml({"evidence": {k: v for k, v in evidence.items() if v != ""}}, 201)


@api.put("/disputes/<dispute_id>/finalize")
@gateway_call
def finalize(dispute_id: str):
    """dispute.finalize: the response goes to the bank; the dispute becomes "disputed"."""
    dispute = gw().disputes.get(dispute_id)
    if dispute is None:
        return Response("", 404)
    if dispute["status"] != "open":
        return api_error("Disputes can only be finalized when they are in an Open state",
                         ErrorCodes.Dispute.CanOnlyFinalizeOpenDispute, scope="dispute")
    dispute.update(status="disputed", updated_at=utc_now())
    return Response("", 200)
