"""/admin/routing: admins see, validate and save the routing rules; invalid rules are never
saved; a save is audited with both hashes and routes the next payment without a restart."""
from __future__ import annotations

import os
import re

import pytest
from flask import current_app

from app.extensions import db
from app.models import AuditRecord, Payment
from app.providers import routing_file
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.shop import cart
from tests.flows import login

NEW_RULES = """version = 1

[[rule]]
name = "euro-area"
currency = ["EUR"]
providers = ["sandbox"]

[[rule]]
name = "default"
providers = ["sandbox"]
"""


@pytest.fixture(autouse=True)
def own_routing_file(app, tmp_path):
    """Each test edits its own copy of the default file."""
    before = app.config.get("ROUTING_FILE")
    app.config["ROUTING_FILE"] = str(tmp_path / "routing.toml")
    yield tmp_path / "routing.toml"
    app.config["ROUTING_FILE"] = before


@pytest.fixture
def admin(app, people):
    client = app.test_client()
    login(client, "admin")
    return client


def changes() -> list[AuditRecord]:
    db.session.commit()
    return db.session.execute(db.select(AuditRecord).where(
        AuditRecord.action == "routing.changed")).scalars().all()


def digest_on_page(html: str) -> str:
    return re.search(r'id="routing-hash">(\w+)<', html).group(1)


@pytest.mark.parametrize("who, status", [("buyer", 403), ("seller", 403), ("support", 403)])
def test_only_admins_reach_the_page(app, people, who, status):
    client = app.test_client()
    login(client, who)
    assert client.get("/admin/routing").status_code == status
    assert client.post("/admin/routing", data={"text": NEW_RULES, "save": "1"}).status_code \
        == status


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/routing")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_page_shows_the_file_in_force_and_its_rules(admin, own_routing_file):
    html = admin.get("/admin/routing").get_data(as_text=True)

    assert own_routing_file.exists()  # copied from the shipped default on first use
    assert digest_on_page(html) == routing_file.digest(own_routing_file.read_text())
    assert "usd-to-us-acquirer" in html and "sandbox_us → sandbox" in html
    assert "breaker closed" in html


def test_invalid_rules_are_explained_and_nothing_is_saved(admin, own_routing_file):
    admin.get("/admin/routing")
    before = own_routing_file.read_text()
    broken = NEW_RULES.replace('currency = ["EUR"]', 'currency = ["euro"]').replace(
        'providers = ["sandbox"]\n\n[[rule]]\nname = "default"', 'providers = ["paypal"]\n\n'
        '[[rule]]\nname = "default"')

    response = admin.post("/admin/routing", data={"text": broken, "save": "1"})

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Nothing was saved" in html
    assert "rule “euro-area”: currency: &#39;euro&#39; is not a 3-letter" in html
    assert "rule “euro-area”: providers: unknown provider &#39;paypal&#39;" in html
    assert own_routing_file.read_text() == before
    assert changes() == []


def test_validate_only_checks_and_saves_nothing(admin, own_routing_file):
    admin.get("/admin/routing")
    before = own_routing_file.read_text()

    response = admin.post("/admin/routing", data={"text": NEW_RULES, "validate_only": "1"})

    assert response.status_code == 200
    assert "Valid: 2 rules. Not saved yet." in response.get_data(as_text=True)
    assert own_routing_file.read_text() == before and changes() == []


def test_save_is_audited_and_routes_the_next_payment(app, admin, people, own_routing_file):
    page = admin.get("/admin/routing").get_data(as_text=True)
    old = digest_on_page(page)

    response = admin.post("/admin/routing", data={"text": NEW_RULES, "save": "1",
                                                   "base_digest": old})

    assert response.status_code == 303
    assert own_routing_file.read_text() == NEW_RULES
    [record] = changes()
    assert f'"old_hash": "{old}"' in record.details
    assert f'"new_hash": "{routing_file.digest(NEW_RULES)}"' in record.details
    assert record.actor == "admin@test.example"
    assert "euro-area" in admin.get("/admin/routing").get_data(as_text=True)
    payment = start_eur_payment(people)
    assert payment.routing_rule == "euro-area"
    assert payment.routing_reason.startswith("rule “euro-area”: currency EUR")


def test_a_save_over_a_newer_version_is_refused(admin, own_routing_file):
    admin.get("/admin/routing")
    response = admin.post("/admin/routing", data={"text": NEW_RULES, "save": "1",
                                                   "base_digest": "0123456789abcdef"})
    assert response.status_code == 409
    assert own_routing_file.read_text() != NEW_RULES and changes() == []


def test_a_file_replaced_by_another_process_is_picked_up(app, own_routing_file):
    assert routing_file.current().rules[0].name == "eu-cards-stay-in-eu"
    # Another process saves: write beside and rename, as routing_file.save does.
    temp = own_routing_file.with_suffix(".new")
    temp.write_text(NEW_RULES)
    os.replace(temp, own_routing_file)

    assert [r.name for r in routing_file.current().rules] == ["euro-area", "default"]


def test_a_file_broken_behind_our_back_keeps_the_last_good_rules(app, own_routing_file):
    assert routing_file.current().rules[-1].name == "default"
    own_routing_file.write_text("this is [ not toml")
    os.utime(own_routing_file, ns=(1, 1))

    assert routing_file.current().rules[-1].name == "default"


def start_eur_payment(people) -> Payment:
    actor = Actor("buyer@test.example", "127.0.0.1")
    cart.set_quantity(people["buyer"], people["mug"], 1)
    order_id = orders.place_order(people["buyer"], "EUR", actor)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        payment_id = checkout.start_payment(order_id, people["buyer"], "hosted", actor,
                                            country="NL").payment_id
    db.session.commit()
    return db.session.get(Payment, payment_id)
