"""`flask seed-demo`: creates the demo accounts and items once; a re-run changes nothing."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditRecord, Item, User
from config import DEMO_ACCOUNTS, DEMO_PASSWORD


def _count(model) -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(model)).scalar()


def test_seed_demo_twice_creates_everything_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    for email, role, _name in DEMO_ACCOUNTS:
        assert f"account {email} ({role})" in first.output
    assert "item Hand-thrown stoneware mug (24.00 EUR)" in first.output
    users, items, audits = _count(User), _count(Item), _count(AuditRecord)
    # Six physical items and the digital one (issue 17), with its key pool and an address.
    assert users == len(DEMO_ACCOUNTS) and items == 7
    assert "digital item Starfall game-credit pack (1,000 gems) (9.99 EUR, 25 licence keys)" \
        in first.output
    assert "shipping address for buyer@demo.test" in first.output

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert second.output.strip() == "demo data already present"
    assert (_count(User), _count(Item), _count(AuditRecord)) == (users, items, audits)


def test_seeded_accounts_log_in_with_the_demo_password(app):
    app.test_cli_runner().invoke(args=["seed-demo"])
    client = app.test_client()
    response = client.post("/login", data={"email": "seller@demo.test",
                                           "password": DEMO_PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/seller"


def test_seed_demo_fills_in_only_what_is_missing(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    db.session.execute(Item.__table__.delete().where(
        Item.seller_id == select(User.id).where(User.email == "seller2@demo.test")
        .scalar_subquery(), Item.fulfilment == "physical"))
    db.session.commit()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0
    assert not [line for line in result.output.splitlines() if line.startswith("account ")]
    assert "item Beeswax candle trio" in result.output
    assert "item Hand-thrown stoneware mug" not in result.output
    assert "digital item" not in result.output
    assert _count(Item) == 7


def test_seeding_keeps_the_audit_chain_intact(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    db.session.rollback()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert "audit log intact" in result.output
