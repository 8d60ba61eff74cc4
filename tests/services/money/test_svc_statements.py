"""Seller statements: from the ledger, adding up, in three formats, signed with Ed25519 and
logged in the audit chain; a downloaded file verifies offline (standalone script and flask
command) and fails after a one-byte change; keys rotate without breaking old statements."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.clock import now
from app.extensions import db
from app.jobs.payouts import run_payouts
from app.models import AuditRecord
from app.services import statement_keys
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError
from app.services.money import statement_issue, statements
from app.statement_verify import main as verify_main
from tests.blueprints.money_steps import (
    add_bank_account,
    holds,
    paid_order,
    release,
    settle_payouts,
)

SELLER = Actor("seller@test.example", "127.0.0.1")


@pytest.fixture
def paid_out(app, people, stack, psp) -> int:
    """`seller` sold 2 mugs (48.00, fee 4.80), support released them, a payout of 43.20 was
    paid: that payout's id."""
    order_id = paid_order(app, people, stack, psp)
    release(holds(order_id)["Mug"].id)
    add_bank_account(people["seller"])
    run_payouts()
    [payout] = [p for p in settle_payouts(psp) if p.seller_id == people["seller"]]
    assert payout.status == "paid"
    return payout.id


def test_a_payout_statement_adds_up_line_by_line(app, people, paid_out):
    statement = statements.build(people["seller"], f"payout:{paid_out}", "EUR")
    assert [(x.group, x.gross, x.fee, x.amount) for x in statement.lines] == [
        ("sales", 4800, 480, 4320), ("paid_out", 0, 0, -4320)]
    assert dict(statement.summary()) == {
        "Opening balance": 0, "Sales": 4800, "Platform fees": -480, "Refunds": 0,
        "Dispute debits": 0, "Reversals": 0, "Adjustments": 0, "Paid out": -4320,
        "Closing balance": 0}
    assert statement.lines[0].reference.startswith("order ")
    assert "2 × Mug" in statement.lines[0].description


def test_issued_once_in_three_formats_and_logged_in_the_chain(app, people, paid_out):
    first = statement_issue.issue(people["seller"], f"payout:{paid_out}", "EUR", SELLER)
    assert statement_issue.issue(people["seller"], f"payout:{paid_out}", "eur", SELLER) == first
    html = statement_issue.document(people["seller"], first, "html")
    csv = statement_issue.document(people["seller"], first, "csv")
    pdf = statement_issue.document(people["seller"], first, "pdf")
    assert b"Statement for payout" in html.content and b"43.20 EUR" in html.content
    assert b"total,Platform fees,,,,,-4.80" in csv.content
    assert pdf.content.startswith(b"%PDF-")
    [record] = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "statement.issued")).scalars().all()
    assert json.loads(record.details)["sha256"] == {"html": html.sha256, "csv": csv.sha256,
                                                    "pdf": pdf.sha256}
    manifest = json.loads(pdf.signature)
    assert manifest["audit"] == {"record_id": record.id, "position": record.position,
                                 "hash": record.hash}
    with pytest.raises(NotFound):
        statement_issue.document(people["other_seller"], first, "pdf")
    with pytest.raises(NotFound):
        statement_issue.issue(people["other_seller"], f"payout:{paid_out}", "EUR", SELLER)


@pytest.mark.parametrize("fmt", ["html", "csv", "pdf"])
def test_a_download_verifies_offline_and_fails_after_a_one_byte_change(
        app, client, people, paid_out, tmp_path, capsys, fmt):
    from tests.flows import login

    login(client, "seller")
    assert client.post("/seller/statements", data={"period": f"payout:{paid_out}",
                                                   "currency": "EUR"}).status_code == 303
    # Issued by that POST: asking again answers the same statement.
    statement_id = statement_issue.issue(people["seller"], f"payout:{paid_out}", "EUR", SELLER)
    body = client.get(f"/seller/statements/{statement_id}/{fmt}")
    assert body.status_code == 200 and "attachment" in body.headers["Content-Disposition"]
    signature = client.get(f"/seller/statements/{statement_id}/{fmt}/signature").data
    key = client.get("/statements/public-key.pem").data
    (tmp_path / "s").write_bytes(body.data)
    (tmp_path / "s.sig.json").write_bytes(signature)
    (tmp_path / "key.pem").write_bytes(key)
    args = [str(tmp_path / "s"), str(tmp_path / "s.sig.json"), str(tmp_path / "key.pem")]
    assert verify_main(args) == 0
    assert "VERIFIED" in capsys.readouterr().out

    changed = bytearray(body.data)
    changed[len(changed) // 2] ^= 0x01   # one bit of one byte
    (tmp_path / "s").write_bytes(bytes(changed))
    assert verify_main(args) == 1
    assert "the file was changed" in capsys.readouterr().out

    # The flask command checks the same, plus the audit record in an intact chain.
    (tmp_path / "s").write_bytes(body.data)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["statements", "verify", *args[:2]])
    assert ok.exit_code == 0 and "the chain verifies" in ok.output, ok.output
    (tmp_path / "s").write_bytes(bytes(changed))
    bad = runner.invoke(args=["statements", "verify", *args[:2]])
    assert bad.exit_code == 1 and "NOT VERIFIED" in bad.output


def test_a_changed_manifest_does_not_verify(app, people, paid_out, tmp_path):
    statement_id = statement_issue.issue(people["seller"], f"payout:{paid_out}", "EUR", SELLER)
    doc = statement_issue.document(people["seller"], statement_id, "csv")
    manifest = json.loads(doc.signature)
    manifest["audit"]["record_id"] += 1   # point at another record
    verdict, _ = statement_issue.verify_with_chain(doc.content, manifest)
    assert not verdict.ok and "signature does not match" in verdict.problems[0]


def test_the_public_keys_are_published_and_rotation_keeps_old_statements(app, client, people,
                                                                         paid_out):
    statement_id = statement_issue.issue(people["seller"], f"payout:{paid_out}", "EUR", SELLER)
    doc = statement_issue.document(people["seller"], statement_id, "pdf")
    published = client.get("/.well-known/holdfast-statement-keys.json").get_json()
    [old] = published["keys"]
    assert old["key_id"] == json.loads(doc.signature)["key_id"] == statement_keys.current_key_id()

    before = app.config["STATEMENT_SIGNING_KEY"], app.config["STATEMENT_RETIRED_PUBLIC_KEYS"]
    app.config.update(STATEMENT_SIGNING_KEY="a-new-statement-key-for-the-rotation-test",
                      STATEMENT_RETIRED_PUBLIC_KEYS=old["public_key"])
    try:
        assert statement_keys.current_key_id() != old["key_id"]
        keys = client.get("/.well-known/holdfast-statement-keys.json").get_json()["keys"]
        assert [k["status"] for k in keys] == ["current", "retired"]
        verdict, chain = statement_issue.verify_with_chain(doc.content,
                                                           json.loads(doc.signature))
        assert verdict.ok and chain == []
    finally:
        app.config.update(STATEMENT_SIGNING_KEY=before[0],
                          STATEMENT_RETIRED_PUBLIC_KEYS=before[1])


def test_a_month_is_issued_once_it_has_ended(app, people, paid_out):
    month = now().strftime("%Y-%m")
    with pytest.raises(ServiceError, match="once the month has ended"):
        statements.build(people["seller"], f"month:{month}", "EUR")
    assert all(p.period != f"month:{month}" for p in statements.periods(people["seller"]))
    clock.timestamp.advance(timedelta(days=32).total_seconds())
    listed = {p.period for p in statements.periods(people["seller"])}
    assert {f"month:{month}", f"payout:{paid_out}"} <= listed
    statement = statements.build(people["seller"], f"month:{month}", "EUR")
    assert statement.total("sales") == 4800 and statement.total("paid_out") == 4320
    assert statement.closing == 0
