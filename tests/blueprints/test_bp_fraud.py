"""Support's fraud review queue and lists, the admin's fraud page, and the checkout's calm
refusal: who may reach each, the TOTP re-prompt, and bad input shown next to the field."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import FraudListEntry
from app.services.form_intents import mint
from tests.flows import (
    add,
    buyer_pays,
    form_key,
    latest_payment,
    login,
    order_and_start,
    psp_call,
    settle,
)


@pytest.fixture(autouse=True)
def own_rules_file(app, tmp_path):
    before = app.config.get("FRAUD_RULES_FILE")
    app.config["FRAUD_RULES_FILE"] = str(tmp_path / "fraud_rules.toml")
    yield
    app.config["FRAUD_RULES_FILE"] = before


def held_payment(app, people, stack, psp):
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference, "pm_card_riskLevelElevated")
    settle(psp)
    return latest_payment(order_id)


def staff(app, who: str):
    client = app.test_client()
    login(client, who)
    return client


@pytest.mark.parametrize("path", ["/support/fraud/reviews", "/support/fraud/lists",
                                  "/admin/fraud"])
def test_buyers_and_sellers_are_refused(app, people, path):
    for who in ("buyer", "seller"):
        client = app.test_client()
        login(client, who)
        assert client.get(path).status_code == 403


def test_support_cannot_edit_the_rules(app, people):
    assert staff(app, "support").get("/admin/fraud").status_code == 403


def test_support_approves_from_the_queue_and_the_psp_captures(app, people, stack, psp):
    from app.auth_session import MFA_AT

    payment = held_payment(app, people, stack, psp)
    client = staff(app, "support")
    queue = client.get("/support/fraud/reviews").get_data(as_text=True)
    assert f'data-payment="{payment.id}"' in queue
    assert "The PSP rates the payment&#39;s risk elevated" in queue
    page = client.get(f"/support/fraud/reviews/{payment.id}").get_data(as_text=True)
    assert "Linked accounts" in page and "buyer@test.example" in page
    with client.session_transaction() as session:
        session[MFA_AT] -= 600  # the code typed at login is no longer recent
    response = client.post(f"/support/fraud/reviews/{payment.id}",
                           data={"approve": "1", "intent": mint()})
    assert response.status_code == 303 and "/account/code" in response.headers["Location"]
    assert latest_payment(payment.order_id).status == "authorized"  # nothing done
    with client.session_transaction() as session:
        session[MFA_AT] += 600  # as after typing a fresh code
    response = client.post(f"/support/fraud/reviews/{payment.id}",
                           data={"approve": "1", "intent": mint()})
    assert response.status_code == 303
    assert latest_payment(payment.order_id).status == "captured"
    session = psp_call(stack["psp_url"], "GET",
                       f"/v1/payment_sessions/{payment.psp_reference}").json()
    assert session["status"] == "captured"


def test_support_rejects_and_the_buyer_sees_a_calm_message(app, people, stack, psp):
    payment = held_payment(app, people, stack, psp)
    client = staff(app, "support")
    response = client.post(f"/support/fraud/reviews/{payment.id}",
                           data={"reject": "1", "confirmed_fraud": "y", "intent": mint()})
    assert response.status_code == 303
    assert latest_payment(payment.order_id).status == "cancelled"
    buyer = app.test_client()
    login(buyer, "buyer")
    page = buyer.get(f"/checkout/{payment.order_id}/return").get_data(as_text=True)
    assert "We could not accept this payment. Nothing has been charged." in page
    assert "risk" not in page.lower()
    assert db.session.execute(select(FraudListEntry)).scalars().all()  # watched


def test_the_buyer_waiting_for_review_is_told_so(app, people, stack, psp):
    payment = held_payment(app, people, stack, psp)
    buyer = app.test_client()
    login(buyer, "buyer")
    page = buyer.get(f"/checkout/{payment.order_id}/status").get_data(as_text=True)
    assert "We are checking your payment." in page
    again = buyer.post(f"/checkout/{payment.order_id}/pay", data={"mode": "hosted"})
    assert again.status_code == 409
    assert "there is no need to pay again" in again.get_data(as_text=True)


def test_lists_show_a_bad_value_next_to_the_field(app, people):
    client = staff(app, "support")
    response = client.post("/support/fraud/lists", data={
        "list_name": "block", "kind": "ip_range", "value": "not-an-ip", "reason": "x"})
    assert response.status_code == 400
    assert 'id="value-error"' in response.get_data(as_text=True)
    assert "IP address or a range" in response.get_data(as_text=True)
    assert not db.session.execute(select(FraudListEntry)).scalars().all()
    response = client.post("/support/fraud/lists", data={
        "list_name": "block", "kind": "ip_range", "value": "203.0.113.9/24", "reason": "bots"})
    assert response.status_code == 303
    entry = db.session.execute(select(FraudListEntry)).scalar_one()
    assert (entry.value, entry.added_by) == ("203.0.113.0/24", "support@test.example")
    assert client.post(f"/support/fraud/lists/{entry.id}/remove").status_code == 303
    db.session.expire_all()
    assert not db.session.execute(select(FraudListEntry)).scalars().all()


def test_admin_sees_rates_and_saves_rules_with_line_errors(app, people):
    client = staff(app, "admin")
    page = client.get("/admin/fraud").get_data(as_text=True)
    assert 'id="fraud-rates"' in page and 'id="fraud-rule-stats"' in page
    digest = page.split('id="fraud-rules-hash">')[1].split("<")[0]
    from app.services.fraud import rules_file

    text = rules_file.read_text()
    response = client.post("/admin/fraud", data={"text": text + "\n[[rule]]\nname = 3\n",
                                                 "base_digest": digest, "save": "1"})
    assert response.status_code == 400
    assert f"line {len(text.splitlines()) + 3}, column 1" in response.get_data(as_text=True)
    assert rules_file.read_text() == text
    stricter = text.replace("block = 90", "block = 80")
    response = client.post("/admin/fraud", data={"text": stricter, "base_digest": digest,
                                                 "save": "1"})
    assert response.status_code == 303
    assert rules_file.current().thresholds.block == 80  # in force without a restart


def test_checkout_answers_429_with_retry_after_in_a_burst(app, people, stack, psp):
    from app.services.fraud import velocity

    client = app.test_client()
    login(client, "buyer")
    for n in range(8):
        velocity.record("declines", {"ip": "127.0.0.1"}, f"burst-{n}")
    add(client, people["mug"])
    response = client.post("/checkout", data={"currency": "EUR"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == 1800
    assert response.headers["Set-Cookie"].startswith("holdfast_checkout_device=")


def test_checkout_rate_limit_and_gate_share_one_redis_round_trip(app, people, monkeypatch):
    from redis.client import Pipeline

    monkeypatch.setitem(app.config, "RATE_LIMITS", {**app.config["RATE_LIMITS"],
                                                    "checkout": (1, 600)})
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    sent = []
    real = Pipeline.execute
    monkeypatch.setattr(Pipeline, "execute", lambda self, *a, **k: sent.append(
        [c[0][0] for c in self.command_stack]) or real(self, *a, **k))
    first = client.post("/checkout", data={"currency": "EUR"})
    assert first.status_code == 303
    assert sent[0][:2] == ["INCRBY", "EXPIRE"] and "GET" in sent[0]  # count and gate together
    assert not any("INCRBY" in commands for commands in sent[1:])  # counted once
    order_id = int(first.headers["Location"].rsplit("/", 1)[1])
    second = client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted"},
                         headers={"Accept": "application/json"})
    assert second.status_code == 429  # the buyer's second checkout request in the window
    assert 0 < int(second.headers["Retry-After"]) <= 600
    assert latest_payment(order_id) is None  # refused before anything was written


def test_approve_pressed_twice_captures_once(app, people, stack, psp):
    payment = held_payment(app, people, stack, psp)
    client = staff(app, "support")
    action = f"/support/fraud/reviews/{payment.id}"
    key = form_key(client.get(action).get_data(as_text=True), action)

    answers = [client.post(action, data={"approve": "1", "intent": key}, follow_redirects=True)
               for _ in range(2)]

    assert all(f"Payment #{payment.id} approved: captured." in a.get_data(as_text=True)
               for a in answers)
    executed = psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]
    captures = [n for k, n in executed.items()
                if k.startswith(payment.idempotency_key) and k.endswith(":capture")]
    assert captures == [1]
    assert latest_payment(payment.order_id).status == "captured"
