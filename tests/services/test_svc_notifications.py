"""Notifications reach a real SMTP server (aiosmtpd, started per test): STARTTLS + AUTH with a
verified certificate; "sent" only on the server's 250; a 550 fails at once with its reason; a
dropped connection is retried with backoff and fails with the reason after the last try; with
no mail server nothing is ever called sent."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.clock import now
from app.extensions import db
from app.models import Notification
from app.services import notifications
from tests.flows import paid_order
from tests.smtp_servers import PASSWORD, USER, Inbox, dropping_server, make_certificate, smtp_server


@pytest.fixture
def mail_settings(app):
    """Set MAIL_* for one test; the suite's own settings (no server) come back after."""
    keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_TLS",
            "MAIL_CA_FILE", "MAIL_MAX_ATTEMPTS", "MAIL_RETRY_BASE_SECONDS", "ENV_NAME")
    before = {k: app.config.get(k) for k in keys}

    def use(**settings):
        app.config.update({f"MAIL_{k.upper()}" if k != "env" else "ENV_NAME": v
                           for k, v in settings.items()})
    yield use
    app.config.update(before)


@pytest.fixture
def certificate(tmp_path):
    return make_certificate(tmp_path)


def _receipt_for_buyer(client, people, stack, psp) -> Notification:
    order_id = paid_order(client, people, stack, psp, {"mug": 2, "candle": 1})
    note = db.session.execute(select(Notification).where(
        Notification.kind == "order_receipt")).scalar_one()
    assert f"#{order_id}" in note.subject
    return note


def _state(note_id: int) -> Notification:
    db.session.expire_all()
    return db.session.get(Notification, note_id)


def test_receipts_and_sale_notices_go_over_starttls_with_auth(app, client, people, stack, psp,
                                                             mail_settings, certificate):
    receipt = _receipt_for_buyer(client, people, stack, psp)
    inbox = Inbox()
    with smtp_server(inbox, certificate) as port:
        mail_settings(server="127.0.0.1", port=port, username=USER, password=PASSWORD,
                      tls="starttls", ca_file=str(certificate[0]))
        sent = notifications.deliver_pending()
    # The buyer's receipt and one new-sale notice for each of the two sellers.
    assert sent == 3 and len(inbox.messages) == 3 and inbox.logins == [USER] * 3
    to, message, authenticated = next(m for m in inbox.messages
                                      if m[1]["Subject"] == receipt.subject)
    assert to == ["buyer@test.example"] and authenticated
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    # Itemized per seller: 2 × Mug (48.00) from Seller, 1 × Candle (16.90), total 64.90.
    assert "Sold by Seller" in text and "Sold by Other Seller" in text
    assert "2 × Mug" in text and "€48.00" in text and "Total paid: €64.90" in text
    assert "<h2" in html and "€64.90" in html and "Other Seller" in html
    sale = next(m[1] for m in inbox.messages if m[0] == ["seller@test.example"])
    # The seller sees the platform fee fixed on the line (10 % default: 4.80) and the net.
    assert "Platform fees: -€4.80" in sale.get_body(("plain",)).get_content()
    assert _state(receipt.id).status == "sent" and _state(receipt.id).sent_at is not None


def test_a_certificate_we_cannot_verify_is_not_trusted_with_the_password(
        app, people, mail_settings, certificate):
    notifications.notify(people["buyer"], "test", "Hello", "Body")
    db.session.commit()
    inbox = Inbox()
    with smtp_server(inbox, certificate) as port:
        mail_settings(server="127.0.0.1", port=port, username=USER, password=PASSWORD,
                      tls="starttls", ca_file="")
        assert notifications.deliver_pending() == 0
    note = db.session.execute(select(Notification)).scalar_one()
    assert note.status == "pending" and "CERTIFICATE_VERIFY_FAILED" in note.last_error
    assert inbox.logins == [] and inbox.messages == []


def test_a_550_fails_at_once_with_the_servers_reason(app, people, mail_settings):
    notifications.notify(people["buyer"], "test", "Hello", "Body")
    db.session.commit()
    with smtp_server(Inbox(refuse="550 5.1.1 No such mailbox here")) as port:
        mail_settings(server="127.0.0.1", port=port, username="", tls="none")
        assert notifications.deliver_pending() == 0
    note = db.session.execute(select(Notification)).scalar_one()
    assert (note.status, note.attempts) == ("failed", 1)
    assert note.last_error == "550 5.1.1 No such mailbox here"


def test_a_dropped_connection_is_retried_with_backoff_then_fails(app, people, mail_settings):
    notifications.notify(people["buyer"], "test", "Hello", "Body")
    db.session.commit()
    note_id = db.session.execute(select(Notification.id)).scalar_one()
    with dropping_server() as port:
        mail_settings(server="127.0.0.1", port=port, username="", tls="starttls",
                      max_attempts=3, retry_base_seconds=60)
        assert notifications.deliver_pending() == 0
        first = _state(note_id)
        assert (first.status, first.attempts) == ("pending", 1)
        assert "SMTPServerDisconnected" in first.last_error
        assert first.next_attempt_at - now() > timedelta(seconds=55)
        # Not due yet: nothing is tried.
        notifications.deliver_pending()
        assert _state(note_id).attempts == 1
        clock.timestamp.advance(61)           # 60 s, then 120 s: the backoff doubles
        notifications.deliver_pending()
        second = _state(note_id)
        assert second.attempts == 2
        assert second.next_attempt_at - now() > timedelta(seconds=115)
        clock.timestamp.advance(121)
        notifications.deliver_pending()
    last = _state(note_id)
    assert (last.status, last.attempts) == ("failed", 3)
    assert "SMTPServerDisconnected" in last.last_error


def test_production_without_a_mail_server_marks_nothing_sent(app, people, mail_settings):
    notifications.notify(people["buyer"], "test", "Hello", "Body")
    db.session.commit()
    mail_settings(server="", env="production")
    assert notifications.deliver_pending() == 0
    note = db.session.execute(select(Notification)).scalar_one()
    assert note.status == "pending" and note.sent_at is None
    assert note.last_error == notifications.NO_SERVER
    mail_settings(env="test")
    notifications.deliver_pending()
    assert _state(note.id).status == "recorded"  # development: only the mailbox shows it


def test_the_development_mailbox_still_shows_every_message(app, client, people, stack, psp):
    _receipt_for_buyer(client, people, stack, psp)
    notifications.deliver_pending()
    page = client.get("/dev/mailbox").get_data(as_text=True)
    assert "Your Holdfast order" in page and "New sale on order" in page and "recorded" in page
