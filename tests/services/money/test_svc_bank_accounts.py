"""Sellers' bank accounts: validated, sealed at rest, masked, changed only with the password."""
from __future__ import annotations

import json

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.crypto import KeyRing
from app.extensions import db
from app.models import AuditRecord, BankAccount
from app.services import audit
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError
from app.services.money.bank_accounts import (
    current_account,
    register_or_change,
    reveal_destination,
    routing_checksum_ok,
)
from tests.flows import PASSWORD, assert_never_stored

IBAN = "DE89370400440532013000"
GB_IBAN = "GB29NWBK60161331926819"
PAYOUTS = Actor("system:payouts", "worker")


def actor(people, who="seller") -> Actor:
    return Actor(f"{who}@test.example", "127.0.0.1", people[who])


def register(people, who="seller", password=PASSWORD, holder="Northwind Goods", **destination):
    destination = destination or {"iban": IBAN}
    return register_or_change(people[who], password, holder, actor(people, who), **destination)


def rows(seller_id: int) -> list[BankAccount]:
    db.session.expire_all()
    return db.session.execute(select(BankAccount).where(BankAccount.seller_id == seller_id)
                              .order_by(BankAccount.id)).scalars().all()


def audits(action: str) -> list[AuditRecord]:
    return db.session.execute(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id)).scalars().all()


def test_an_iban_is_stored_sealed_and_shown_masked(people):
    register(people, iban="de89 3704 0044 0532 0130 00")  # as people type it
    [row] = rows(people["seller"])
    assert (row.kind, row.country, row.last4, row.holder_name) == ("iban", "DE", "3000",
                                                                   "Northwind Goods")
    assert row.replaced_at is None and len(row.key_id) == 8
    shown = current_account(people["seller"])
    assert shown.masked == "•••• 3000" and shown.kind == "iban"
    destination, holder = reveal_destination(people["seller"], PAYOUTS)
    assert destination == {"iban": IBAN}  # the provider contract's shape, nothing else
    assert holder == "Northwind Goods"


def test_plaintext_never_reaches_the_database(people):
    register(people, iban=IBAN)
    register(people, who="other_seller", account_number="000123456789",
             routing_number="021000021")
    secrets = [IBAN, "370400440532013000", "0532013000", "000123456789", "021000021"]
    assert_never_stored(BankAccount, secrets)


def test_a_sealed_account_moved_to_another_seller_does_not_open(people):
    register(people, iban=IBAN)
    register(people, who="other_seller", iban=GB_IBAN)
    mine, theirs = rows(people["seller"])[0], rows(people["other_seller"])[0]
    theirs.ciphertext, theirs.nonce = mine.ciphertext, mine.nonce
    theirs.wrapped_key, theirs.key_id = mine.wrapped_key, mine.key_id
    db.session.commit()
    with pytest.raises(InvalidTag):
        reveal_destination(people["other_seller"], PAYOUTS)


@pytest.mark.parametrize(("iban", "message"), [
    ("DE89370400440532013001", "check digits"),
    ("DE8937040044053201300", "wrong number of characters"),
    ("XX89370400440532013000", "country code"),
    ("not an iban", "not a valid IBAN"),
])
def test_an_invalid_iban_is_refused_readably(people, iban, message):
    with pytest.raises(ServiceError, match=message) as refused:
        register(people, iban=iban)
    assert iban not in refused.value.message
    assert rows(people["seller"]) == []


@pytest.mark.parametrize("routing", ["021000021", "011000015", "111000025"])
def test_real_routing_numbers_pass_the_aba_checksum(routing):
    assert routing_checksum_ok(routing)


@pytest.mark.parametrize("routing", ["021000022", "123456789", "011000016"])
def test_mistyped_routing_numbers_fail_the_aba_checksum(routing):
    assert not routing_checksum_ok(routing)


def test_a_us_account_is_stored_with_its_routing_number(people):
    register(people, account_number="0001-2345-6789", routing_number="021 000 021")
    [row] = rows(people["seller"])
    assert (row.kind, row.country, row.last4) == ("us_account", "US", "6789")
    assert reveal_destination(people["seller"], PAYOUTS).destination == {
        "account_number": "000123456789", "routing_number": "021000021"}


@pytest.mark.parametrize(("destination", "message"), [
    ({"account_number": "123456789", "routing_number": "021000022"}, "check digit"),
    ({"account_number": "123456789", "routing_number": "02100002"}, "9 digits"),
    ({"account_number": "123", "routing_number": "021000021"}, "4 to 17 digits"),
    ({"account_number": "1" * 18, "routing_number": "021000021"}, "4 to 17 digits"),
    ({"account_number": "12ab5678", "routing_number": "021000021"}, "4 to 17 digits"),
    ({"iban": IBAN, "account_number": "123456789", "routing_number": "021000021"}, "either"),
    ({"iban": " ", "account_number": ""}, "either"),
])
def test_an_invalid_us_account_or_a_mix_is_refused(people, destination, message):
    with pytest.raises(ServiceError, match=message):
        register(people, **destination)
    assert rows(people["seller"]) == []


def test_a_wrong_password_changes_nothing_and_is_audited(people):
    first = register(people, iban=IBAN)
    with pytest.raises(ServiceError, match="password is not correct"):
        register(people, password="not-my-password", iban=GB_IBAN)
    [row] = rows(people["seller"])
    assert row.id == first and row.replaced_at is None and row.last4 == "3000"
    failed = [a for a in audits("bank_account.changed") if a.outcome == "failure"]
    assert len(failed) == 1 and failed[0].actor_id == people["seller"]
    assert "6819" not in failed[0].details
    assert audit.verify_chain() == []


def test_the_audit_record_carries_the_last_four_only(people):
    account_id = register(people, iban=IBAN)
    [entry] = audits("bank_account.changed")
    details = json.loads(entry.details)
    assert entry.outcome == "success" and entry.target == f"user:{people['seller']}"
    assert details["last4"] == "3000" and details["kind"] == "iban"
    assert IBAN not in entry.details and "0532013000" not in entry.details
    assert db.session.get(BankAccount, account_id).key_id == details["key_id"]


def test_changing_the_account_keeps_the_old_one_as_history(people):
    first = register(people, iban=IBAN)
    second = register(people, iban=GB_IBAN, holder="Northwind Goods Ltd")
    old, new = rows(people["seller"])
    assert (old.id, new.id) == (first, second)
    assert old.replaced_at is not None and new.replaced_at is None
    assert old.replaced_at >= old.created_at
    assert current_account(people["seller"]).masked == "•••• 6819"
    assert reveal_destination(people["seller"], PAYOUTS).destination == {"iban": GB_IBAN}
    assert json.loads(audits("bank_account.changed")[-1].details)["replaced"] == first


def test_the_database_allows_one_current_account_per_seller(people):
    register(people, iban=IBAN)
    [row] = rows(people["seller"])
    db.session.add(BankAccount(seller_id=row.seller_id, kind="iban", holder_name="x", last4="0000",
                               country="DE", ciphertext=b"x", nonce=b"x", wrapped_key=b"x",
                               key_id="x"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_only_sellers_have_bank_accounts(people):
    with pytest.raises(NotFound):
        register_or_change(people["buyer"], PASSWORD, "Buyer", actor(people, "buyer"),
                           iban=IBAN)
    assert rows(people["buyer"]) == []


def test_each_seller_sees_only_their_own_account(people):
    register(people, iban=IBAN)
    assert current_account(people["other_seller"]) is None
    with pytest.raises(NotFound):
        reveal_destination(people["other_seller"], PAYOUTS)


def test_revealing_the_destination_is_audited_with_last_four_only(people):
    account_id = register(people, iban=IBAN)
    reveal_destination(people["seller"], PAYOUTS)
    [entry] = audits("bank_account.decrypted")
    assert entry.actor == "system:payouts" and entry.target == f"user:{people['seller']}"
    assert json.loads(entry.details) == {"account": account_id, "last4": "3000"}


def test_accounts_survive_key_rotation(app, people):
    from app.crypto import rewrap

    register(people, iban=IBAN)
    old_secret = app.config["ENCRYPTION_KEY"]
    rotated = {"ENCRYPTION_KEY": "a-brand-new-secret-for-tests",
               "ENCRYPTION_RETIRED_KEYS": old_secret}
    saved = {k: app.config.get(k) for k in rotated}
    app.config.update(rotated)
    try:
        # The retired key still opens what it sealed.
        assert reveal_destination(people["seller"], PAYOUTS).destination == {"iban": IBAN}
        [row] = rows(people["seller"])
        old_id = row.key_id
        row.sealed = rewrap(row.sealed, row.associated_data())
        db.session.commit()
        app.config["ENCRYPTION_RETIRED_KEYS"] = ""
        assert rows(people["seller"])[0].key_id == KeyRing.from_config(app.config).current.key_id
        assert rows(people["seller"])[0].key_id != old_id
        assert reveal_destination(people["seller"], PAYOUTS).destination == {"iban": IBAN}
    finally:
        app.config.update(saved)
