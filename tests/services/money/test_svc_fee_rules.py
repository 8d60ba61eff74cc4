"""Fees as configuration: the rule in force is fixed on each order line when the order is
placed; editing the item's category or the rules afterwards changes nothing for that order;
every change is audited; the CLI uses the same rules."""
from __future__ import annotations

from sqlalchemy import select

from app.domain.fees import FeeRule
from app.extensions import db
from app.models import AuditRecord, EscrowHold, Item, OrderLine
from app.services.audit import Actor
from app.services.money import fee_rules
from tests.flows import add, buyer_pays, latest_payment, login, order_and_start, settle

ADMIN = Actor("admin@test.example", "127.0.0.1")


def _hold_fee(order_id: int) -> int:
    db.session.expire_all()
    return db.session.execute(select(EscrowHold.fee_amount).where(
        EscrowHold.order_id == order_id)).scalar_one()


def test_the_fee_is_the_one_in_force_when_the_order_was_placed(app, client, people, stack, psp):
    # ceramics: 5 %, minimum 2.00; the mug (24.00) is filed under ceramics.
    fee_rules.set_rule(people["seller"], "ceramics", FeeRule(500, 0, 200), ADMIN)
    db.session.get(Item, people["mug"]).category = "ceramics"
    db.session.commit()
    login(client, "buyer")
    add(client, people["mug"])
    order_id, payment = order_and_start(client, "EUR")
    line = db.session.execute(select(OrderLine).where(OrderLine.order_id == order_id)).scalar_one()
    assert (line.fee_bps, line.fee_minimum, line.fee_source) == (500, 200,
                                                                 "seller+category:ceramics")

    # Between order and capture the seller moves the item to "general" (the seller's general
    # rule: 20 %) and the admin raises the ceramics rule: neither reaches this order.
    fee_rules.set_rule(people["seller"], None, FeeRule(2000), ADMIN)
    fee_rules.set_rule(people["seller"], "ceramics", FeeRule(3000), ADMIN)
    db.session.get(Item, people["mug"]).category = "general"
    db.session.commit()
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(psp)
    assert latest_payment(order_id).status == "captured"
    assert _hold_fee(order_id) == 200   # 5 % of 24.00 = 1.20, raised to the 2.00 minimum

    # A new order pays the new rule for its category ("general": the seller's 20 %).
    add(client, people["mug"])
    order_id, payment = order_and_start(client, "EUR")
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(psp)
    assert _hold_fee(order_id) == 480


def test_precedence_and_the_platform_wide_rule(app, people):
    assert fee_rules.rule_for(people["seller"], "general") == (FeeRule(1000), "default")
    fee_rules.set_rule(None, None, FeeRule(700, 25), ADMIN)
    fee_rules.set_rule(None, "books", FeeRule(300, maximum=500), ADMIN)
    assert fee_rules.rule_for(people["seller"], "general") == (FeeRule(700, 25), "default")
    assert fee_rules.rule_for(people["seller"], "books") == (FeeRule(300, maximum=500),
                                                             "category:books")
    fee_rules.set_rule(people["seller"], None, FeeRule(900), ADMIN)
    assert fee_rules.rule_for(people["seller"], "books") == (FeeRule(900), "seller")
    assert fee_rules.rule_for(people["other_seller"], "books")[1] == "category:books"


def test_changes_are_audited_with_before_and_after(app, people):
    rule_id = fee_rules.set_rule(people["seller"], "Ceramics", FeeRule(500), ADMIN)
    fee_rules.set_rule(people["seller"], "ceramics", FeeRule(600, 10, 50, 900), ADMIN)
    fee_rules.delete_rule(rule_id, ADMIN)
    records = db.session.execute(select(AuditRecord).where(
        AuditRecord.target == f"fee_rule:{rule_id}").order_by(AuditRecord.id)).scalars().all()
    assert [r.action for r in records] == ["fee_rule.saved", "fee_rule.saved", "fee_rule.deleted"]
    assert '"after": "6.00 % + 10, min 50, max 900"' in records[1].details
    assert '"before": "5.00 %"' in records[1].details
    assert fee_rules.rules() == []


def test_the_cli_sets_previews_lists_and_deletes(app, people):
    runner = app.test_cli_runner()
    done = runner.invoke(args=["fees", "set", "--seller", "seller@test.example", "--category",
                               "ceramics", "--bps", "250", "--min", "50", "--max", "1000"])
    assert done.exit_code == 0, done.output
    shown = runner.invoke(args=["fees", "preview", "--amount", "100000", "--seller",
                                "seller@test.example", "--category", "ceramics"])
    assert "fee 1000, seller keeps 99000" in shown.output
    proposed = runner.invoke(args=["fees", "preview", "--amount", "1000", "--bps", "250",
                                   "--min", "50"])
    assert "fee 50" in proposed.output
    listed = runner.invoke(args=["fees", "list"])
    assert "seller@test.example\tceramics\t2.50 %, min 50, max 1000" in listed.output
    refused = runner.invoke(args=["fees", "set", "--bps", "100", "--min", "10", "--max", "5"])
    assert refused.exit_code != 0 and "maximum cannot be below" in refused.output
    rule_id = fee_rules.rules()[0].id
    assert runner.invoke(args=["fees", "delete", str(rule_id)]).exit_code == 0
    record = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "fee_rule.deleted")).scalar_one()
    assert record.actor.startswith("cli:")
