"""The simulation routes to every PSP we have wired and pays in every mode: Stripe and Braintree
through the real adapters and SDKs against the in-process fakes (sim/stripe_sim.py,
sim/braintree_sim.py), card fields tokenized at the PSP and authorized by our server
(sim/buyers.py). Seeds chosen whose routing sends EUR to each (the trace's first line says the
weights); each run must also keep every invariant against that PSP's own records."""
from __future__ import annotations

import re

from sim.run import run_seed
from sim.world import fast_hash


def _checkouts(trace) -> set[tuple[str, str]]:
    return {m.groups() for line in trace
            if (m := re.search(r"checkout: .*\((hosted|embedded|fields) at (\w+)\)", line))}


def _faults_on(trace, path: str) -> list[str]:
    return [line for line in trace if re.match(rf"fault \S+ api POST {path}", line)]


def test_a_run_pays_at_stripe_and_keeps_every_invariant_against_its_records(world):
    from app.extensions import db
    from app.models import Payment
    from app.models.webhooks import WebhookEvent

    result = run_seed(world, 1014, fast_hash())
    assert result.ok, result.report()
    assert result.trace[0] == "routing EUR: sandbox:4 stripe:3 braintree:2"
    assert {("hosted", "stripe"), ("embedded", "stripe")} <= _checkouts(result.trace)
    assert _faults_on(result.trace, "/v1/payment_intents"), "the plan never reached Stripe"
    captured = db.session.execute(db.select(Payment).where(
        Payment.provider == "stripe", Payment.amount_captured > 0)).scalars().all()
    assert captured, "no Stripe payment was captured"
    fake = world.stripe.fake
    # Our captures reached the fake through the SDK, each Idempotency-Key executed once.
    assert any(path.endswith("/capture") for _, path, _ in fake.calls)
    assert fake.idempotency and all(r.executions == 1 for r in fake.idempotency.values())
    # Stripe's webhooks went through the seeded deliverer into our inbox.
    assert db.session.execute(db.select(WebhookEvent.id).where(
        WebhookEvent.provider == "stripe")).first() is not None


def test_a_run_pays_at_braintree_by_nonce_and_its_sales_match_ours(world):
    from app.extensions import db
    from app.models import Payment

    result = run_seed(world, 1004, fast_hash())
    assert result.ok, result.report()
    assert ("fields", "braintree") in _checkouts(result.trace)   # Hosted Fields
    assert _faults_on(result.trace, "/merchants/"), "the plan never reached Braintree"
    gateway = world.braintree.gateway
    paid = db.session.execute(db.select(Payment).where(
        Payment.provider == "braintree", Payment.psp_reference.is_not(None))).scalars().all()
    assert paid and all(p.psp_reference in gateway.transactions for p in paid)
    # Every sale's and refund's order_id (our key) moved money once at the gateway.
    assert gateway.executions and not world.braintree.twice()


def test_card_fields_at_the_sandbox_are_tokenized_and_authorized_by_our_server(world):
    from app.extensions import db
    from app.models import Payment

    result = run_seed(world, 1001, fast_hash())
    assert result.ok, result.report()
    assert any("in card fields with" in line for line in result.trace)
    fields = db.session.execute(db.select(Payment).where(
        Payment.integration_mode == "fields", Payment.provider == "sandbox")).scalars().all()
    assert fields


def test_braintree_executions_count_money_moved_per_order_id_not_declined_attempts():
    """A declined card and the card tried next share the payment's order_id (the adapter's
    design); two sales that went through on one order_id are a double charge."""
    from sim.braintree_sim import BraintreeSim

    sim = BraintreeSim(world=None)
    sales = sim.gateway.transactions
    sales["a"] = {"order_id": "hf_1", "status": "processor_declined"}
    sales["b"] = {"order_id": "hf_1", "status": "settled"}
    sim.gateway.executions.update({"hf_1": 2, "capture:b": 1})
    assert sim.twice() == []
    sales["c"] = {"order_id": "hf_1", "status": "authorized"}
    sim.gateway.executions["void:c"] = 2
    assert sim.twice() == ["Braintree hf_1 executed 2×", "Braintree void:c executed 2×"]
