"""The vault: saved cards sealed at rest, one row per card, owner-only, every decryption audited."""
from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from app import crypto
from app.extensions import db
from app.models import AuditRecord, SavedPaymentMethod
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError
from app.services.payments import vault
from tests.flows import assert_never_stored

TOKEN = "pm_vaulttest5f0c9a1e2b3d4c5e6f7a"
PSP_PRINT = "a1b2c3d4e5f60718"


def actor(people, who="buyer") -> Actor:
    return Actor(f"{who}@test.example", "127.0.0.1", people[who])


def save(people, who="buyer", token=TOKEN, psp_print=PSP_PRINT, exp=(12, 2031), last4="4242"):
    return vault.save(people[who], "sandbox", token, "visa", last4, exp[0], exp[1], psp_print,
                      actor(people, who))


def rows() -> list[SavedPaymentMethod]:
    db.session.expire_all()
    return db.session.execute(select(SavedPaymentMethod).order_by(SavedPaymentMethod.id)
                              ).scalars().all()


def audits(action: str) -> list[AuditRecord]:
    return db.session.execute(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id)).scalars().all()


@pytest.fixture
def keys(app):
    """Set ENCRYPTION_KEY / ENCRYPTION_RETIRED_KEYS for one test, restored afterwards."""
    saved = {k: app.config.get(k) for k in ("ENCRYPTION_KEY", "ENCRYPTION_RETIRED_KEYS")}

    def use(current: str, *retired: str) -> None:
        app.config.update(ENCRYPTION_KEY=current, ENCRYPTION_RETIRED_KEYS=",".join(retired))

    yield use
    app.config.update(saved)


def test_saving_seals_the_token_and_keeps_display_data_in_the_clear(people):
    method_id = save(people)
    [row] = rows()
    assert row.id == method_id and (row.brand, row.last4, row.exp_month, row.exp_year) == (
        "visa", "4242", 12, 2031)
    assert row.key_id == crypto.current_keyring().current.key_id and row.revoked_at is None
    [shown] = vault.list_methods(people["buyer"])
    assert shown.label == "Visa •••• 4242 (12/31)" and not shown.expired
    assert not hasattr(shown, "token")


def test_the_token_never_reaches_the_database_in_plaintext(people):
    save(people)
    save(people, who="other_buyer", token="pm_vaulttestotherbuyer00000000", psp_print="ffee")
    secrets = [TOKEN, "pm_vaulttestotherbuyer00000000", PSP_PRINT]
    assert_never_stored(SavedPaymentMethod, secrets, file_marker=b"saved_payment_methods")


def test_the_same_card_saved_twice_is_one_row_with_the_newest_token(people):
    first = save(people)
    second = save(people, token="pm_vaulttestrenewed000000000000", exp=(3, 2033))
    assert first == second and len(rows()) == 1
    assert rows()[0].exp_year == 2033  # display data follows the newest save
    assert vault.open_token(first, people["buyer"], actor(people), "test") == \
        "pm_vaulttestrenewed000000000000"
    [refresh] = audits("vault.method_saved")[1:]
    assert '"refreshed": true' in refresh.details


def test_another_card_or_another_buyer_is_another_row(people):
    save(people)
    save(people, psp_print="0000111122223333", last4="4444")
    save(people, who="other_buyer")
    assert len(rows()) == 3
    assert [m.last4 for m in vault.list_methods(people["buyer"])] == ["4444", "4242"]
    assert len(vault.list_methods(people["other_buyer"])) == 1


def test_the_fingerprint_is_keyed_and_not_the_psps(people, keys):
    keys("vault-test-key-A")
    a = vault.fingerprint("sandbox", PSP_PRINT)
    keys("vault-test-key-B")
    b = vault.fingerprint("sandbox", PSP_PRINT)
    assert a != b and len(a) == 64 and PSP_PRINT not in a
    assert vault.fingerprint("other_psp", PSP_PRINT) != b  # providers' fingerprints never mix


def test_opening_a_token_is_audit_logged_with_who_which_and_why(people):
    method_id = save(people)
    token = vault.open_token(method_id, people["buyer"], actor(people), "pay order 7")
    assert token == TOKEN
    [entry] = audits("vault.decrypted")
    assert (entry.actor, entry.actor_id, entry.outcome) == ("buyer@test.example",
                                                            people["buyer"], "success")
    assert entry.target == f"saved_payment_method:{method_id}"
    assert '"reason": "pay order 7"' in entry.details and TOKEN not in entry.details


def test_another_buyers_card_is_not_found_and_the_attempt_is_logged(people):
    method_id = save(people)
    thief = actor(people, "other_buyer")
    with pytest.raises(NotFound):
        vault.get_method(method_id, people["other_buyer"])
    with pytest.raises(NotFound):
        vault.open_token(method_id, people["other_buyer"], thief, "pay order 8")
    with pytest.raises(NotFound):
        vault.revoke(method_id, people["other_buyer"], thief)
    [entry] = audits("vault.decrypted")
    assert entry.outcome == "failure" and entry.actor == "other_buyer@test.example"
    assert vault.list_methods(people["buyer"])  # untouched


def test_a_revoked_card_is_gone_and_saving_it_again_makes_a_new_row(people):
    method_id = save(people)
    vault.revoke(method_id, people["buyer"], actor(people))
    assert vault.list_methods(people["buyer"]) == []
    with pytest.raises(NotFound):
        vault.open_token(method_id, people["buyer"], actor(people), "pay")
    with pytest.raises(NotFound):
        vault.revoke(method_id, people["buyer"], actor(people))
    again = save(people)
    assert again != method_id and [r.revoked_at is None for r in rows()] == [False, True]
    assert len(audits("vault.method_revoked")) == 1


def test_a_sealed_token_moved_to_another_buyer_does_not_open(people):
    save(people)
    victim_id = save(people, who="other_buyer", token="pm_vaulttestvictim000000000000")
    mine, theirs = rows()
    mine.sealed = theirs.sealed  # copy the other buyer's ciphertext onto my row
    db.session.commit()
    with pytest.raises(InvalidTag):
        vault.open_token(mine.id, people["buyer"], actor(people), "pay")
    assert vault.open_token(victim_id, people["other_buyer"], actor(people, "other_buyer"),
                            "pay") == "pm_vaulttestvictim000000000000"


@pytest.mark.parametrize("bad", [{"last4": "42a2"}, {"last4": "42424"}, {"exp": (13, 2031)},
                                 {"token": ""}])
def test_malformed_card_data_from_the_psp_is_refused(people, bad):
    with pytest.raises(ServiceError):
        save(people, **bad)
    assert rows() == []


def test_an_expired_card_says_so(people):
    save(people, exp=(1, 2020))
    assert vault.list_methods(people["buyer"])[0].expired


def test_the_same_card_after_a_key_change_is_still_one_row(people, keys):
    keys("vault-test-key-A")
    first = save(people)
    keys("vault-test-key-B", "vault-test-key-A")  # rotation window: A retired, B current
    assert save(people, token="pm_vaulttestafterrotation000000") == first
    [row] = rows()
    assert row.fingerprint == vault.fingerprint("sandbox", PSP_PRINT)  # now under B
    assert row.key_id == crypto.current_keyring().current.key_id
