"""PSP outages at checkout and capture: 5xx before and after executing, timeouts, 409 and 429
from the sandbox's fault helper. Each scenario ends with exactly one charge at the PSP and a
payment that agrees with it; another provider is tried only when the first certainly did
nothing; an unknown outcome goes to the janitor, which settles it by asking the PSP."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from flask import current_app

from app.extensions import db, queues
from app.jobs.payments import resolve_payment
from app.models import AuditRecord, Payment
from app.providers.breaker import CircuitBreaker
from app.providers.registry import get_provider
from app.providers.resilience import guard
from app.providers.sandbox import SandboxProvider
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.errors import PaymentUnavailable, ServiceError
from app.services.payments.actions import action_key
from app.services.shop import cart
from tests.flows import API_KEY, buyer_pays, closed_port_url, eventually, psp_call, settle

ACTOR = Actor("buyer@test.example", "127.0.0.1")


def forget(app, name: str) -> None:
    """Drop the app's cached adapter (and 'not configured' memo) for a provider."""
    app.extensions.setdefault("holdfast_providers", {}).pop(name, None)
    app.extensions.setdefault("holdfast_unconfigured", {}).pop(name, None)


@pytest.fixture
def sandbox_us(app, stack, serve_wsgi, tmp_path):
    """A second sandbox PSP (own database, webhooks to /webhooks/sandbox_us) configured as
    provider "sandbox_us": the default routing sends USD to it first."""
    import sandbox_psp

    psp = sandbox_psp.create_app({
        "TESTING": True,
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox_us.db'}",
        "SANDBOX_API_KEYS": API_KEY,
        "SANDBOX_WEBHOOK_URL": f"{stack['url']}/webhooks/sandbox_us",
        "SANDBOX_WEBHOOK_SECRET": app.config["SANDBOX_WEBHOOK_SECRET"],
        "SANDBOX_PLATFORM_ORIGIN": stack["url"],
        "SANDBOX_WEBHOOK_RETRY_BASE": 0.2,
        "SANDBOX_FINGERPRINT_KEY": "fingerprint-key-for-tests",
    })
    url = serve_wsgi(psp)
    app.config["SANDBOX_US_API_URL"] = url
    forget(app, "sandbox_us")
    yield {"psp": psp, "url": url}
    app.config["SANDBOX_US_API_URL"] = ""
    forget(app, "sandbox_us")


HELD_BACK = 1.5  # seconds the "timeout_after" fault holds the answer: far past QUICK_TIMEOUT
QUICK_TIMEOUT = 0.4


@pytest.fixture
def quick_timeout(app):
    """`with quick_timeout():` the sandbox adapter gives up after QUICK_TIMEOUT, for the one
    call a "timeout_after" fault holds back; every other call keeps the normal timeout, so a
    loaded machine cannot time out a call that was meant to succeed."""
    inner = get_provider("sandbox").inner
    before = inner.timeout

    @contextmanager
    def short():
        inner.timeout = QUICK_TIMEOUT
        try:
            yield
        finally:
            inner.timeout = before

    yield short
    inner.timeout = before


def fault(psp_url: str, kind: str, count: int = 1, **extra) -> None:
    answer = psp_call(psp_url, "POST", "/v1/test_helpers/faults",
                      {"fault": kind, "count": count, **extra})
    assert answer.status_code == 200, answer.text


def order(people, currency: str = "EUR") -> int:
    item = people["mug"] if currency == "EUR" else people["board"]
    cart.set_quantity(people["buyer"], item, 2)
    return orders.place_order(people["buyer"], currency, ACTOR)


def start(people, order_id: int) -> int:
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        return checkout.start_payment(order_id, people["buyer"], "hosted", ACTOR).payment_id


def fresh(payment_id: int) -> Payment:
    db.session.commit()  # end the read snapshot: the live servers wrote
    return db.session.get(Payment, payment_id)


def executions(psp_url: str) -> dict:
    return psp_call(psp_url, "GET", "/v1/_stats").json()["executions"]


def sessions_for(psp_url: str, payment: Payment) -> list[dict]:
    return psp_call(psp_url, "GET", "/v1/payment_sessions?client_reference_id="
                    f"{payment.idempotency_key}").json()["data"]


def assert_charged_once(payment_id: int, psp_url: str, psp) -> Payment:
    """The buyer pays, webhooks and jobs settle: captured once, one session, one execution."""
    payment = fresh(payment_id)
    assert buyer_pays(psp_url, payment.psp_reference).status_code == 200
    settle(psp)
    payment = fresh(payment_id)
    assert payment.status == "captured" and payment.needs_review is False
    assert payment.amount_captured == payment.amount
    assert len(sessions_for(psp_url, payment)) == 1
    ran = executions(psp_url)
    assert ran[payment.idempotency_key] == 1
    assert ran[action_key(payment, "capture")] == 1
    return payment


# --- faults at the one PSP -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["5xx_before", "5xx_after", "409", "429"])
def test_create_session_fault_is_retried_with_the_same_key(app, people, stack, psp, kind):
    fault(stack["psp_url"], kind, path="/v1/payment_sessions", method="POST",
          retry_after=0.05)

    payment_id = start(people, order(people))

    payment = fresh(payment_id)
    assert payment.status == "processing" and payment.provider == "sandbox"
    assert_charged_once(payment_id, stack["psp_url"], psp)


@pytest.mark.parametrize("kind", ["5xx_before", "5xx_after", "409", "429"])
def test_capture_fault_is_retried_with_the_same_key(app, people, stack, psp, kind):
    payment_id = start(people, order(people))
    fault(stack["psp_url"], kind, path="/capture", retry_after=0.05)

    payment = assert_charged_once(payment_id, stack["psp_url"], psp)

    listed = psp_call(stack["psp_url"], "GET", "/v1/test_helpers/faults").json()["data"]
    assert listed == []  # the fault was really met on the way
    assert payment.amount_captured == 4800


def test_timeout_after_creating_is_unknown_until_the_janitor_asks(app, people, stack, psp,
                                                                  quick_timeout):
    fault(stack["psp_url"], "timeout_after", path="/v1/payment_sessions", method="POST",
          delay=HELD_BACK)
    order_id = order(people)

    with quick_timeout(), pytest.raises(PaymentUnavailable):
        start(people, order_id)

    payment = db.session.execute(db.select(Payment).where(Payment.order_id == order_id)).scalar_one()
    assert payment.status == "unknown" and payment.psp_reference is None
    scheduled = queues.queue.scheduled_job_registry.get_job_ids()
    assert f"janitor-{payment.id}" in scheduled
    # The session exists at the PSP: the call executed, only its answer was lost. (Under load
    # the PSP may still be executing it when the adapter gives up: wait for it, do not race.)
    eventually(lambda: len(sessions_for(stack["psp_url"], payment)) == 1)

    resolve_payment(payment.id, 0)

    payment = fresh(payment.id)
    assert payment.status == "processing" and payment.psp_reference is not None
    assert_charged_once(payment.id, stack["psp_url"], psp)


def test_timeout_after_capturing_never_captures_twice(app, people, stack, psp, quick_timeout):
    from app.providers.base import ProviderTimeout
    from app.services.payments import actions

    app.config["AUTO_CAPTURE"] = False
    try:
        payment_id = start(people, order(people))
        payment = fresh(payment_id)
        buyer_pays(stack["psp_url"], payment.psp_reference)
        settle(psp)
        assert fresh(payment_id).status == "authorized"
        fault(stack["psp_url"], "timeout_after", path="/capture", delay=HELD_BACK)

        with quick_timeout(), pytest.raises(ProviderTimeout):
            actions.capture(payment_id, ACTOR)
        assert fresh(payment_id).status == "authorized"  # we don't know yet
        # It did run at the PSP (wait for its commit, which saves the answer for the retry, too).
        eventually(lambda: psp_call(stack["psp_url"], "GET", "/v1/payment_sessions/"
                                    f"{payment.psp_reference}").json()["amount_captured"])

        actions.capture(payment_id, ACTOR)  # the job's retry: same key
    finally:
        app.config["AUTO_CAPTURE"] = True
    settle(psp)
    payment = fresh(payment_id)
    assert payment.status == "captured" and payment.amount_captured == payment.amount
    assert executions(stack["psp_url"])[action_key(payment, "capture")] == 1


# --- two providers: failover only when nothing executed -----------------------------------

def test_usd_goes_to_the_us_instance_end_to_end(app, people, stack, sandbox_us):
    payment_id = start(people, order(people, "USD"))

    payment = fresh(payment_id)
    assert payment.provider == "sandbox_us" and payment.routing_rule == "usd-to-us-acquirer"
    assert payment.routing_fallbacks == "sandbox"
    assert "currency USD" in payment.routing_reason
    assert_charged_once(payment_id, sandbox_us["url"], sandbox_us["psp"])
    assert sessions_for(stack["psp_url"], payment) == []


def test_unreachable_primary_fails_over_to_the_next_provider(app, people, stack, psp,
                                                             sandbox_us):
    down = SandboxProvider(closed_port_url(), API_KEY, ["unused"], timeout=1)
    app.extensions["holdfast_providers"]["sandbox_us"] = guard(down, "sandbox_us", app.config)

    payment_id = start(people, order(people, "USD"))

    payment = fresh(payment_id)
    assert payment.provider == "sandbox" and payment.routing_fallbacks == ""
    assert "sandbox_us unavailable (connection_error), failed over to sandbox" \
        in payment.routing_reason
    moved = db.session.execute(db.select(AuditRecord).where(
        AuditRecord.action == "payment.failed_over")).scalars().all()
    assert len(moved) == 1
    assert_charged_once(payment_id, stack["psp_url"], psp)


def test_open_breaker_fails_over_without_calling_the_provider(app, people, stack, psp,
                                                              sandbox_us):
    breaker = CircuitBreaker(queues.connection, "sandbox_us",
                             threshold=app.config["PSP_BREAKER_THRESHOLD"])
    for _ in range(app.config["PSP_BREAKER_THRESHOLD"]):
        breaker.record_failure()

    payment_id = start(people, order(people, "USD"))

    payment = fresh(payment_id)
    assert payment.provider == "sandbox" and "circuit_open" in payment.routing_reason
    assert executions(sandbox_us["url"]) == {}  # never asked
    assert_charged_once(payment_id, stack["psp_url"], psp)


def test_429_longer_than_the_budget_fails_over(app, people, stack, psp, sandbox_us):
    fault(sandbox_us["url"], "429", retry_after=600)

    payment_id = start(people, order(people, "USD"))

    payment = fresh(payment_id)
    assert payment.provider == "sandbox" and "rate_limited" in payment.routing_reason
    assert executions(sandbox_us["url"]) == {}
    assert_charged_once(payment_id, stack["psp_url"], psp)


def test_unknown_outcome_never_fails_over(app, people, stack, sandbox_us):
    """5xx on every try: the US PSP may have executed, so the EU one is never asked."""
    fault(sandbox_us["url"], "5xx_before", count=10, path="/v1/payment_sessions",
          method="POST")
    order_id = order(people, "USD")

    with pytest.raises(PaymentUnavailable):
        start(people, order_id)

    payment = db.session.execute(db.select(Payment).where(Payment.order_id == order_id)).scalar_one()
    assert (payment.status, payment.provider) == ("unknown", "sandbox_us")
    assert sessions_for(stack["psp_url"], payment) == []
    psp_call(sandbox_us["url"], "DELETE", "/v1/test_helpers/faults")

    resolve_payment(payment.id, 0)  # nothing was created there after all

    payment = fresh(payment.id)
    assert payment.status == "failed"
    assert sessions_for(sandbox_us["url"], payment) == []
    assert sessions_for(stack["psp_url"], payment) == []


def test_refusal_is_not_an_outage_and_does_not_fail_over(app, people, stack, sandbox_us):
    """A 4xx is the PSP's answer about this payment, not a reason to try elsewhere."""
    original = get_provider("sandbox_us")

    def refuse(request):
        from app.providers.base import ProviderError
        raise ProviderError("currency not supported", code="currency_unsupported", status=400)

    original.inner.create_session = refuse
    order_id = order(people, "USD")

    with pytest.raises(ServiceError, match="refused to start this payment"):
        start(people, order_id)

    payment = db.session.execute(db.select(Payment).where(Payment.order_id == order_id)).scalar_one()
    assert (payment.status, payment.provider) == ("failed", "sandbox_us")
    assert sessions_for(stack["psp_url"], payment) == []


def test_eu_billing_country_from_the_pay_form_keeps_a_usd_card_in_the_eu(app, people, stack,
                                                                        sandbox_us):
    from tests.flows import add, latest_payment, login

    client = app.test_client()
    login(client, "buyer")
    add(client, people["board"])
    order_id = int(client.post("/checkout", data={"currency": "USD"})
                   .headers["Location"].rstrip("/").split("/")[-1])

    response = client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted", "country": "DE"})

    assert response.status_code == 303
    payment = latest_payment(order_id)
    assert (payment.provider, payment.routing_rule) == ("sandbox", "eu-cards-stay-in-eu")
    assert payment.billing_country == "DE" and "tags eu_card" in payment.routing_reason
    # Same order, another country: a new payment, routed again (the old session cancelled).
    client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted", "country": "US"})
    again = latest_payment(order_id)
    assert again.id != payment.id and again.provider == "sandbox_us"
    assert fresh(payment.id).status == "cancelled"


def test_fault_helper_checks_its_input_and_can_be_switched_off(tmp_path):
    import sandbox_psp

    def psp(helpers: bool):
        return sandbox_psp.create_app({
            "TESTING": True, "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / f'{helpers}.db'}",
            "SANDBOX_API_KEYS": API_KEY, "SANDBOX_TEST_HELPERS": helpers}).test_client()

    auth = {"Authorization": f"Bearer {API_KEY}"}
    on = psp(True)
    assert on.post("/v1/test_helpers/faults", json={"fault": "boom"},
                   headers=auth).status_code == 400
    assert on.post("/v1/test_helpers/faults", json={"fault": "429"}).status_code == 401
    assert on.post("/v1/test_helpers/faults", json={"fault": "429", "retry_after": 7},
                   headers=auth).status_code == 200
    limited = on.get("/v1/balance", headers=auth)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert on.get("/v1/balance", headers=auth).status_code == 200  # count 1: used up
    off = psp(False)
    assert off.post("/v1/test_helpers/faults", json={"fault": "429"},
                    headers=auth).status_code == 404
