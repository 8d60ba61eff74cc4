"""Key rotation over every sealed table: the full procedure, idempotence, failures, and load."""
from __future__ import annotations

import threading
import time

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from app import crypto
from app.database import unit_of_work
from app.extensions import db
from app.models import AuditRecord, LicenceKey, MfaSecret, SavedPaymentMethod
from app.services.audit import Actor, verify_chain
from app.services.money import bank_accounts
from app.services.payments import vault
from app.services.security.key_rotation import SEALED_MODELS, key_status, rotate
from app.services.shop import digital
from tests.flows import PASSWORD

A, B = None, "rotation-test-key-B"  # A: the test configuration's own ENCRYPTION_KEY
ACTOR = Actor("system:keys-rotate", "cli")
TOTP = b"JBSWY3DPEHPK3PXP"


@pytest.fixture
def keys(app):
    """Set ENCRYPTION_KEY / ENCRYPTION_RETIRED_KEYS for one test, restored afterwards."""
    saved = {k: app.config.get(k) for k in ("ENCRYPTION_KEY", "ENCRYPTION_RETIRED_KEYS")}

    def use(current: str | None = None, *retired: str) -> str:
        """Key A is the test configuration's own key (the fixtures' records are under it)."""
        current = current or saved["ENCRYPTION_KEY"]
        retired = tuple(r or saved["ENCRYPTION_KEY"] for r in retired)
        app.config.update(ENCRYPTION_KEY=current, ENCRYPTION_RETIRED_KEYS=",".join(retired))
        return crypto.current_keyring().current.key_id

    yield use
    app.config.update(saved)


def buyer(people) -> Actor:
    return Actor("buyer@test.example", "127.0.0.1", people["buyer"])


def save_card(people, n: int, token: str | None = None) -> int:
    return vault.save(people["buyer"], "sandbox", token or f"pm_rotation{n:04d}", "visa",
                      f"{n:04d}"[-4:], 12, 2031, f"psp-print-{n}", buyer(people))


def seal_mfa(user_id: int) -> None:
    with unit_of_work():
        row = MfaSecret(user_id=user_id)
        row.sealed = crypto.encrypt(TOTP, row.associated_data())
        db.session.add(row)


def open_mfa(user_id: int) -> bytes:
    row = db.session.get(MfaSecret, user_id)
    return crypto.decrypt(row.sealed, row.associated_data())


def all_mfa() -> dict[int, bytes]:
    """Every MFA secret (ours and any the people fixture enrolled), opened."""
    db.session.expire_all()
    return {row.user_id: open_mfa(row.user_id)
            for row in db.session.execute(select(MfaSecret)).scalars()}


def key_ids() -> dict[str, set[str]]:
    db.session.expire_all()
    return {m.__tablename__: set(db.session.execute(select(m.key_id)).scalars())
            for m in SEALED_MODELS}


@pytest.fixture
def sealed_under_a(people, keys):
    """A bank account, two saved cards and MFA secrets, all sealed under key A."""
    key_a = keys(A)
    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind Goods",
                                     Actor("seller@test.example", "127.0.0.1", people["seller"]),
                                     iban="DE89370400440532013000")
    cards = [save_card(people, 1), save_card(people, 2)]
    seal_mfa(people["other_seller"])
    seller = Actor("seller@test.example", "127.0.0.1", people["seller"])
    digital.set_kind(people["seller"], people["mug"], "licence_key", 0, seller)  # issue 17
    digital.add_keys(people["seller"], people["mug"], "KEY-ROTATE-1", seller)
    assert key_ids() == {"bank_accounts": {key_a}, "saved_payment_methods": {key_a},
                         "mfa_secrets": {key_a}, "licence_keys": {key_a}}
    return cards


def test_the_full_rotation_procedure(app, people, keys, sealed_under_a):
    secrets_before = all_mfa()
    key_b = keys(B, A)  # step 1: the new key is current, the old one retired
    reports = rotate(ACTOR)  # step 2
    assert {r.table: (r.rewrapped, r.failed) for r in reports} == {
        "bank_accounts": (1, []), "saved_payment_methods": (2, []),
        "mfa_secrets": (len(secrets_before), []), "licence_keys": (1, [])}
    assert key_ids() == {t: {key_b} for t in key_ids()}
    keys(B)  # step 3: the old key leaves the configuration
    destination, _ = bank_accounts.reveal_destination(people["seller"], ACTOR)
    assert destination == {"iban": "DE89370400440532013000"}
    assert vault.open_token(sealed_under_a[0], people["buyer"], buyer(people), "t") == \
        "pm_rotation0001"
    assert all_mfa() == secrets_before and secrets_before[people["other_seller"]] == TOTP
    key = db.session.execute(select(LicenceKey)).scalar_one()
    assert crypto.decrypt(key.sealed, key.associated_data()) == b"KEY-ROTATE-1"
    # The fingerprints moved to the new key too: the same card is still recognised.
    assert save_card(people, 2, token="pm_rotationagain") == sealed_under_a[1]
    assert [s for *_, s in key_status()] == ["current"] * 4


def test_a_record_left_under_a_dropped_key_raises_unknown_key_error(app, people, keys,
                                                                    sealed_under_a):
    keys(B)  # A dropped without rotating first
    with pytest.raises(crypto.UnknownKeyError, match="no configured encryption key"):
        vault.open_token(sealed_under_a[0], people["buyer"], buyer(people), "t")
    with pytest.raises(crypto.UnknownKeyError):
        open_mfa(people["other_seller"])
    assert {s for *_, s in key_status()} == {"unknown"}
    reports = rotate(ACTOR)
    stuck = sum(len(r.failed) for r in reports)
    assert all(r.rewrapped == 0 for r in reports) and stuck >= 4
    assert "which the configuration no longer holds" in reports[0].failed[0]
    # Putting A back as retired lets the next run finish the job.
    key_b = keys(B, A)
    assert sum(r.rewrapped for r in rotate(ACTOR)) == stuck
    assert key_ids() == {t: {key_b} for t in key_ids()}


def test_rotation_is_idempotent_and_audited_per_batch(app, people, keys):
    keys(A)
    ids = [save_card(people, n) for n in range(5)]
    key_b = keys(B, A)
    [first] = [r for r in rotate(ACTOR, batch_size=2) if r.table == "saved_payment_methods"]
    assert first.rewrapped == 5
    assert sum(r.rewrapped for r in rotate(ACTOR, batch_size=2)) == 0  # nothing left to do
    batches = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "vault.rewrapped",
        AuditRecord.target == "saved_payment_methods")).scalars().all()
    assert len(batches) == 3  # 2 + 2 + 1
    assert all(key_b in b.details for b in batches)
    assert verify_chain() == []
    assert vault.open_token(ids[4], people["buyer"], buyer(people), "t") == "pm_rotation0004"


def test_a_tampered_record_is_reported_and_the_rest_rotate(app, people, keys):
    keys(A)
    first, second = save_card(people, 1), save_card(people, 2)
    with unit_of_work():
        row = db.session.get(SavedPaymentMethod, first)
        row.ciphertext = bytes([row.ciphertext[0] ^ 1]) + row.ciphertext[1:]
    key_b = keys(B, A)
    [report] = [r for r in rotate(ACTOR) if r.table == "saved_payment_methods"]
    assert report.rewrapped == 1
    assert report.failed == [f"{first}: does not decrypt (changed, or moved from another record)"]
    db.session.expire_all()
    assert db.session.get(SavedPaymentMethod, second).key_id == key_b
    assert db.session.get(SavedPaymentMethod, first).key_id != key_b
    with pytest.raises(InvalidTag):
        vault.open_token(first, people["buyer"], buyer(people), "t")


def test_rotation_while_the_app_keeps_saving_and_opening(app, people, keys, monkeypatch):
    keys(A)
    old = [save_card(people, n) for n in range(40)]
    key_b = keys(B, A)
    expected = {method_id: f"pm_rotation{n:04d}" for n, method_id in enumerate(old)}
    stop, errors, done = threading.Event(), [], []

    def buyer_traffic():
        with app.app_context():
            try:
                n = 0
                while not stop.is_set() or n < 10:
                    target = old[n % len(old)]
                    token = f"pm_loadrenewed{n:05d}"  # the same card saved again: a new token
                    assert save_card(people, old.index(target), token=token) == target
                    expected[target] = token
                    fresh = save_card(people, 1000 + n)
                    expected[fresh] = f"pm_rotation{1000 + n:04d}"
                    assert vault.open_token(target, people["buyer"], buyer(people), "load") \
                        == token
                    done.append(n)
                    n += 1
            except Exception as exc:  # noqa: BLE001 -- reported below, never lost in the thread
                errors.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=buyer_traffic)
    thread.start()
    deadline = time.monotonic() + 60  # ends as soon as the buyers are under way
    while len(done) < 3 and time.monotonic() < deadline and not errors:
        time.sleep(0.01)
    # Interleave for sure: before each batch's transaction, let the buyers get another step in
    # (waiting inside a batch would hold SQLite's write lock and stall them instead).
    from contextlib import contextmanager

    from app.services.security import key_rotation

    real_unit_of_work = key_rotation.unit_of_work

    @contextmanager
    def unit_of_work_after_buyer_traffic():
        seen = len(done)
        deadline = time.monotonic() + 30  # ends at the buyers' next step; only bounds a hang
        while len(done) == seen and time.monotonic() < deadline and not errors:
            time.sleep(0.005)
        with real_unit_of_work() as session:
            yield session

    monkeypatch.setattr(key_rotation, "unit_of_work", unit_of_work_after_buyer_traffic)
    before = len(done)
    reports = rotate(ACTOR, batch_size=3)
    monkeypatch.setattr(key_rotation, "unit_of_work", real_unit_of_work)
    during = len(done) - before
    stop.set()
    thread.join(30)
    assert not thread.is_alive() and errors == []
    assert during > 0  # the buyers really were saving and paying while it ran
    assert all(r.failed == [] for r in reports)
    assert sum(r.rewrapped for r in rotate(ACTOR)) == 0  # nothing was left under A
    assert key_ids()["saved_payment_methods"] == {key_b}
    keys(B)  # A retired: every record, old or written during the rotation, still opens
    for method_id, token in expected.items():
        assert vault.open_token(method_id, people["buyer"], buyer(people), "check") == token
    assert len(vault.list_methods(people["buyer"])) == len(expected)  # nothing lost or doubled
    assert verify_chain() == []
