"""Connect for a marketplace: connected accounts, transfers and transfer reversals."""
from __future__ import annotations

import time

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
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
        transfer["reversals"]["data"].append(dict(reversal))
        fake.emit("transfer.reversed", transfer, key)
        return reversal

    @api_route(app, fake, "/v1/transfers/<tid>/reversals/<rid>")
    def get_reversal(params, key, tid, rid):
        reversal = fake.get(rid, "transfer_reversal")
        if reversal["transfer"] != tid:
            raise invalid(f"No such transfer reversal: '{rid}'", code="resource_missing")
        return dict(reversal)
