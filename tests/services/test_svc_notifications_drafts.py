"""Receipts and new-sale notices are drafts written in the paying transaction and rendered by
the delivery job: the webhook worker renders no template, each draft is rendered once, what may
change after payment is kept in the draft, and a draft that cannot be rendered fails alone."""
from __future__ import annotations

import json

from sqlalchemy import select

from app.extensions import db
from app.models import Notification
from app.services import notifications
from tests.flows import paid_order


def _rows() -> list[Notification]:
    db.session.expire_all()
    return list(db.session.execute(select(Notification).order_by(Notification.id)).scalars())


def test_the_paying_transaction_writes_drafts_and_renders_nothing(client, people, stack, psp,
                                                                  monkeypatch):
    rendered: list[str] = []
    real = notifications.render
    monkeypatch.setattr(notifications, "render",
                        lambda template, **kw: rendered.append(template) or real(template, **kw))

    order_id = paid_order(client, people, stack, psp, {"mug": 2, "candle": 1})

    assert rendered == []  # the worker applying the PSP's events rendered no e-mail
    rows = _rows()
    assert [(r.kind, r.status, r.html) for r in rows] == [
        ("order_receipt", "draft", None), ("new_sale", "draft", None),
        ("new_sale", "draft", None)]
    receipt = json.loads(rows[0].body)
    # Paid when authorized (the capture follows): the receipt says so, with the card.
    assert receipt == {"renderer": "receipt", "facts": {
        "order_id": order_id, "captured": False, "card": "Visa ending 4242",
        "release_days": 14}}
    assert sorted(json.loads(r.body)["facts"]["seller_id"] for r in rows[1:]) == sorted(
        [people["seller"], people["other_seller"]])


def test_each_draft_is_rendered_once_as_the_receipt_it_was(client, people, stack, psp):
    order_id = paid_order(client, people, stack, psp, {"mug": 2, "candle": 1})

    assert notifications.render_drafts() == 3
    assert notifications.render_drafts() == 0  # a second delivery run finds nothing to render
    receipt, *sales = _rows()
    assert [r.status for r in (receipt, *sales)] == ["pending"] * 3
    # Captured since it was paid; the receipt still says what was true when it was written.
    assert "Your payment is authorized (Visa ending 4242)." in receipt.body
    assert "Sold by Seller" in receipt.body and "Sold by Other Seller" in receipt.body
    assert "2 × Mug at €24.00: €48.00" in receipt.body and "Total paid: €64.90" in receipt.body
    assert "Hello Buyer," in receipt.body and "<table" in receipt.html
    assert f"/orders/{order_id}" in receipt.body
    mine = next(s for s in sales if s.user_id == people["seller"])
    assert "2 × Mug: €48.00" in mine.body and "Platform fees: -€4.80" in mine.body
    assert "Candle" not in mine.body  # each seller sees only their own lines


def test_a_draft_that_cannot_be_rendered_fails_alone(client, people, stack, psp, caplog):
    paid_order(client, people, stack, psp, {"mug": 1})
    broken = _rows()[0]
    broken.body = json.dumps({"renderer": "no-such-renderer", "facts": {}})
    db.session.commit()

    assert notifications.render_drafts() == 1  # the seller's notice still goes
    broken, sale = _rows()
    assert broken.status == "failed" and "could not render: KeyError" in broken.last_error
    assert sale.status == "pending" and "1 × Mug" in sale.body
    assert "could not be rendered" in caplog.text


def test_delivery_renders_drafts_before_it_sends(app, client, people, stack, psp):
    paid_order(client, people, stack, psp, {"mug": 1})

    assert notifications.deliver_pending() == 0  # no mail server in tests: "recorded"
    assert {(r.status, r.html is not None) for r in _rows()} == {("recorded", True)}


def test_the_development_mailbox_shows_drafts_rendered(client, people, stack, psp):
    paid_order(client, people, stack, psp, {"mug": 1})

    page = client.get("/dev/mailbox").get_data(as_text=True)
    assert "1 × Mug" in page and "renderer" not in page
    assert {r.status for r in _rows()} == {"pending"}
