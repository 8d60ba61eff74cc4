"""Connect for a marketplace: connected accounts, transfers and transfer reversals."""
from __future__ import annotations

import time

from flask import request

from tests.fakes.stripe.forms import as_int
from tests.fakes.stripe.payments import expand
from tests.fakes.stripe.state import FakeStripe, invalid


def register(app, fake: FakeStripe) -> None:
    """The Connect routes."""
    from tests.fakes.stripe.app import api_route

    @api_route(app, fake, "/v1/accounts", methods=("POST",))
    def create_account(params, key):
        account_id = fake.new_id("acct")[:21]
        return fake.put({
            "id": account_id, "object": "account", "type": params.get("type", "express"),
            "country": params.get("country", "US"), "email": params.get("email"),
            "default_currency": "eur" if params.get("country") in ("DE", "FR", "NL") else "usd",
            "charges_enabled": True, "payouts_enabled": True, "details_submitted": True,
            "capabilities": {"transfers": "active"}, "metadata": params.get("metadata") or {},
            "created": int(time.time())})

    @api_route(app, fake, "/v1/accounts/<aid>")
    def get_account(params, key, aid):
        return expand(fake, fake.get(aid, "account"), params.get("expand"))

    @api_route(app, fake, "/v1/transfers", methods=("POST",))
    def create_transfer(params, key):
        amount = as_int(params.get("amount"), "amount")
        if amount <= 0:
            raise invalid("Amount must be at least 1.", code="amount_too_small", param="amount")
        destination = params.get("destination")
        account = fake.objects.get(destination or "")
        if account is None or account["object"] != "account":
            raise invalid(f"No such destination: '{destination}'", code="resource_missing",
                          param="destination")
        if account["capabilities"].get("transfers") != "active":
            raise invalid("The destination account needs the transfers capability.",
                          code="insufficient_capabilities_for_transfer")
        transfer = fake.put({
            "id": fake.new_id("tr"), "object": "transfer", "amount": amount,
            "amount_reversed": 0, "currency": params.get("currency"),
            "destination": destination, "destination_payment": fake.new_id("py"),
            "transfer_group": params.get("transfer_group"),
            "metadata": params.get("metadata") or {}, "reversed": False,
            "source_transaction": params.get("source_transaction"), "source_type": "card",
            "description": params.get("description"), "created": int(time.time()),
            "balance_transaction": None, "livemode": False,
            "reversals": {"object": "list", "data": [], "has_more": False, "url": ""}})
        transfer["reversals"]["url"] = f"/v1/transfers/{transfer['id']}/reversals"
        transfer["balance_transaction"] = fake.balance_transaction(
            -amount, transfer["currency"], transfer["id"], "transfer", 0)["id"]
        fake.emit("transfer.created", transfer, key)
        return transfer

    @api_route(app, fake, "/v1/transfers/<tid>")
    def get_transfer(params, key, tid):
        return expand(fake, fake.get(tid, "transfer"), params.get("expand"))

    @api_route(app, fake, "/v1/transfers/<tid>/reversals", methods=("POST",))
    def reverse(params, key, tid):
        transfer = fake.get(tid, "transfer")
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = as_int(params.get("amount", left), "amount")
        if not 0 < amount <= left:
            raise invalid(f"The amount to reverse ({amount}) is more than what is left on the "
                          f"transfer ({left}).", code="amount_too_large", param="amount")
        reversal = fake.put({
            "id": fake.new_id("trr"), "object": "transfer_reversal", "amount": amount,
            "currency": transfer["currency"], "transfer": transfer["id"],
            "metadata": params.get("metadata") or {}, "created": int(time.time()),
            "balance_transaction": None, "destination_payment_refund": None,
            "source_refund": None})
        # Stripe books the money back in the platform's balance as a `transfer_refund`.
        reversal["balance_transaction"] = fake.balance_transaction(
            amount, reversal["currency"], reversal["id"], "transfer_refund", 0)["id"]
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
        transfer["reversals"]["data"].append(dict(reversal))
        fake.emit("transfer.reversed", transfer, key)
        return reversal

    @api_route(app, fake, "/v1/payouts", methods=("POST",))
    def create_payout(params, key):
        # Only a connected account's payout (the Stripe-Account header): the platform's own
        # payouts are not modelled.
        account_id = request.headers.get("Stripe-Account")
        account = fake.get(account_id, "account")
        amount = as_int(params.get("amount"), "amount")
        currency = params.get("currency")
        if amount > connected_balance(fake, account_id, currency):
            raise invalid("You have insufficient funds in your Stripe account.",
                          code="balance_insufficient", param="amount")
        payout = fake.put({
            "id": fake.new_id("po"), "object": "payout", "amount": amount, "currency": currency,
            "status": "in_transit", "method": "standard", "type": "bank_account",
            "destination": f"ba_{account['id'][-8:]}", "failure_code": None,
            "failure_message": None, "metadata": params.get("metadata") or {},
            "arrival_date": int(time.time()) + 86400, "created": int(time.time()),
            "automatic": False, "livemode": False}, account=account_id)
        fake.emit("payout.created", payout, key, account=account_id)
        if fake.instant_payouts:
            payout["status"] = "paid"
            fake.emit("payout.paid", payout, account=account_id)
        return payout

    @api_route(app, fake, "/v1/payouts")
    def list_payouts(params, key):
        account_id = request.headers.get("Stripe-Account")
        found = [p for p in fake.of_kind("payout")
                 if fake.extras.get(p["id"], {}).get("account") == account_id]
        limit = as_int(params.get("limit", 10), "limit")
        return {"object": "list", "url": "/v1/payouts", "has_more": len(found) > limit,
                "data": found[:limit]}

    @api_route(app, fake, "/v1/payouts/<pid>")
    def get_payout(params, key, pid):
        payout = fake.get(pid, "payout")
        if fake.extras.get(pid, {}).get("account") != request.headers.get("Stripe-Account"):
            raise invalid(f"No such payout: '{pid}'", code="resource_missing")
        return payout

    @api_route(app, fake, "/v1/topups", methods=("POST",))
    def create_topup(params, key):
        # The platform's bank pays in at once (test mode): a `topup` balance transaction. A
        # top-up the bank refuses (fake.fail_topups) is booked and reversed, as Stripe books a
        # failed top-up: `topup` in, `topup_reversal` out, the top-up "failed".
        amount = as_int(params.get("amount"), "amount")
        if amount <= 0:
            raise invalid("Amount must be at least 1.", code="amount_too_small", param="amount")
        currency = params.get("currency")
        topup = fake.put({
            "id": fake.new_id("tu"), "object": "topup", "amount": amount,
            "currency": currency, "status": "succeeded", "balance_transaction": None,
            "description": params.get("description"), "metadata": params.get("metadata") or {},
            "failure_code": None, "failure_message": None,
            "created": int(time.time()), "expected_availability_date": int(time.time()),
            "livemode": False})
        topup["balance_transaction"] = fake.balance_transaction(
            amount, currency, topup["id"], "topup", 0)["id"]
        if fake.fail_topups > 0:
            fake.fail_topups -= 1
            fake.balance_transaction(-amount, currency, topup["id"], "topup_reversal", 0)
            topup.update(status="failed", failure_code="insufficient_funds",
                         failure_message="The bank account has insufficient funds.")
            fake.emit("topup.failed", topup, key)
            return topup
        fake.emit("topup.succeeded", topup, key)
        return topup

    @api_route(app, fake, "/v1/transfers/<tid>/reversals/<rid>")
    def get_reversal(params, key, tid, rid):
        reversal = fake.get(rid, "transfer_reversal")
        if reversal["transfer"] != tid:
            raise invalid(f"No such transfer reversal: '{rid}'", code="resource_missing")
        return dict(reversal)


def connected_balance(fake: FakeStripe, account_id: str, currency: str | None) -> int:
    """What a connected account holds: transfers to it less reversals, less payouts not
    failed (a failed payout's money is back in the account's balance)."""
    held = sum(t["amount"] - t["amount_reversed"] for t in fake.of_kind("transfer")
               if t["destination"] == account_id and t["currency"] == currency)
    paid = sum(p["amount"] for p in fake.of_kind("payout")
               if fake.extras.get(p["id"], {}).get("account") == account_id
               and p["currency"] == currency and p["status"] not in ("failed", "canceled"))
    return held - paid
