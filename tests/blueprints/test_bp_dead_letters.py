"""/support/dead-letters: support and admin see failed events with a redacted payload, dry-run a
replay (htmx partial or page) and confirm it; buyers and sellers never reach it."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.database import unit_of_work
from app.extensions import db
from app.models import WebhookEvent
from tests.flows import login, run_jobs
from tests.services.test_svc_dead_letters import failed_webhook

CARD = "4242424242424242"


def stored_failure(provider: str = "sandbox", event_id: str = "evt_x") -> int:
    with unit_of_work():
        row = WebhookEvent(provider=provider, event_id=event_id, event_type="payment_session.authorized",
                           object_id="ps_unknown", status="failed", attempts=6,
                           last_error="ProviderError: sandbox answered 500",
                           payload='{"data": {"object": {"id": "ps_unknown", "client_secret": '
                                   f'"cs_live_shh", "card": {{"number": "{CARD}", "last4": "4242"}}}}}}}}')
        db.session.add(row)
        db.session.flush()
        return row.id


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_only_staff_reach_the_page(app, people, who):
    client = app.test_client()
    login(client, who)
    assert client.get("/support/dead-letters").status_code == 403
    assert client.post("/support/dead-letters/replay", data={"id": 1}).status_code == 403


@pytest.mark.parametrize("who", ["support", "admin"])
def test_staff_see_error_attempts_and_a_redacted_payload(app, people, who):
    event_id = stored_failure()
    client = app.test_client()
    login(client, who)

    html = client.get("/support/dead-letters").get_data(as_text=True)

    row = re.search(rf'<tr data-event="{event_id}">(.*?)</tr>', html, re.DOTALL).group(1)
    assert "sandbox answered 500" in row and "<td>6</td>" in row
    assert "[redacted]" in row and "4242" in row
    assert CARD not in html and "cs_live_shh" not in html


def test_filters_live_in_the_url_and_bad_ones_are_named(app, people):
    stored_failure("sandbox", "evt_a")
    stored_failure("stripe", "evt_b")
    client = app.test_client()
    login(client, "support")

    html = client.get("/support/dead-letters?provider=stripe").get_data(as_text=True)
    assert "evt_b" in html and "evt_a" not in html
    assert 'href="/support/dead-letters/preview?provider=stripe"' in html

    response = client.get("/support/dead-letters?from=soon")
    assert response.status_code == 400
    assert "“from” must look like 2026-01-31" in response.get_data(as_text=True)


def test_dry_run_then_replay_from_the_page(app, people, stack, monkeypatch):
    payment, row = failed_webhook(people, stack, monkeypatch)
    client = app.test_client()
    login(client, "support")

    partial = client.get(f"/support/dead-letters/preview?id={row.id}",
                         headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in body
    assert "processing → authorized" in body and f'name="id" value="{row.id}"' in body
    assert "Vary" in partial.headers and "HX-Request" in partial.headers["Vary"]
    page = client.get(f"/support/dead-letters/preview?id={row.id}").get_data(as_text=True)
    assert "<html" in page and "processing → authorized" in page

    response = client.post("/support/dead-letters/replay", data={"id": row.id})
    assert response.status_code == 303
    run_jobs()
    db.session.rollback()
    assert db.session.get(WebhookEvent, row.id).status == "processed"
    assert payment.id and db.session.scalars(select(WebhookEvent.status)).all() == ["processed"]
    followed = client.get("/support/dead-letters").get_data(as_text=True)
    assert "1 event(s) queued for processing again." in followed
    assert "No failed events." in followed
