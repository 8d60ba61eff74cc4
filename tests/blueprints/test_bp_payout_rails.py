"""The payout rail on screen: the seller sees who pays them and each payout's rail and state;
an admin sets a seller's rail on /admin/payout-rails or with `flask payouts set-rail`, and
every change is audited."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.jobs.payouts import run_payouts
from app.models import AuditRecord
from app.services.money import payout_rails
from tests.blueprints.money_steps import (
    add_bank_account,
    holds,
    paid_order,
    release,
    settle_payouts,
)
from tests.fakes.braintree.wiring import braintree_on
from tests.flows import login, psp_call, settle


@pytest.fixture
def bt(app, serve_wsgi):
    with braintree_on(app, serve_wsgi) as (gateway, _url):
        yield gateway


def rail_audits() -> list[dict]:
    return [json.loads(r.details) for r in db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "payout.rail_changed").order_by(AuditRecord.id)).scalars()]


def test_the_seller_sees_the_rail_and_each_payouts_state(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    release(holds(order_id)["Mug"].id)
    add_bank_account(people["seller"])
    run_payouts()
    (payout,) = settle_payouts(psp)
    assert payout.status == "paid"
    psp_call(stack["psp_url"], "POST", f"/v1/test_helpers/payouts/{payout.psp_reference}/return")
    settle(psp)
    client = app.test_client()
    login(client, "seller")
    page = client.get("/seller").get_data(as_text=True)
    assert "Paid by: <strong>Bank transfer (sandbox) to …3000</strong>" in page
    assert 'data-rail="sandbox">Bank transfer (sandbox)</td>' in page
    assert "badge-returned" in page and "this account is closed" in page
    assert "came back from your bank" in page  # the balances' alert names a returned payout


def test_an_admin_sets_a_rail_on_the_page_and_a_refusal_is_shown(app, people, bt):
    client = app.test_client()
    login(client, "admin")
    page = client.get("/admin/payout-rails")
    assert page.status_code == 200
    assert "seller@test.example" in page.get_data(as_text=True)

    refused = client.post("/admin/payout-rails", data={"seller_id": people["seller"],
                                                       "rail": "braintree"})
    assert refused.status_code == 400
    assert "merchant account id" in refused.get_data(as_text=True)
    assert payout_rails.chosen(people["seller"]) is None

    saved = client.post("/admin/payout-rails", data={
        "seller_id": people["seller"], "rail": "braintree", "account_ref": "northwind_eur"})
    assert saved.status_code == 303
    assert payout_rails.chosen(people["seller"]) == "braintree"
    assert [(a["rail"], a["account"]) for a in rail_audits()] == [("braintree", "northwind_eur")]

    # A seller is no admin: the page and the form are out of reach.
    login(client, "seller")
    assert client.post("/admin/payout-rails", data={"seller_id": people["seller"],
                                                    "rail": ""}).status_code in (302, 403, 404)
    assert payout_rails.chosen(people["seller"]) == "braintree"


def test_the_cli_sets_and_lists_rails(app, people, bt):
    runner = app.test_cli_runner()
    done = runner.invoke(args=["payouts", "set-rail", "seller@test.example", "braintree",
                               "--account", "northwind_eur"])
    assert done.exit_code == 0, done.output
    assert "Braintree to …_eur" in done.output
    listed = runner.invoke(args=["payouts", "rails"])
    assert "seller@test.example\tbraintree\tnorthwind_eur" in listed.output
    refused = runner.invoke(args=["payouts", "set-rail", "buyer@test.example", "sandbox"])
    assert refused.exit_code != 0 and "No seller has this email" in refused.output
    back = runner.invoke(args=["payouts", "set-rail", "seller@test.example", "default"])
    assert back.exit_code == 0
    assert payout_rails.chosen(people["seller"]) is None
    assert [a["rail"] for a in rail_audits()] == [
        "braintree", "default"]
