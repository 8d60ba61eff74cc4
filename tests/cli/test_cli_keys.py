"""`flask keys status` and `flask keys rotate`: counts per key, re-wrapping, exit codes."""
from __future__ import annotations

import pytest

from app import crypto
from app.extensions import db
from app.services.audit import Actor
from app.services.payments import vault

B = "cli-keys-test-key-B"


@pytest.fixture
def keys(app):
    """Switch ENCRYPTION_KEY / ENCRYPTION_RETIRED_KEYS for one test; "A" is the test key."""
    saved = {k: app.config.get(k) for k in ("ENCRYPTION_KEY", "ENCRYPTION_RETIRED_KEYS")}

    def use(current: str, *retired: str) -> str:
        names = {"A": saved["ENCRYPTION_KEY"]}
        app.config.update(ENCRYPTION_KEY=names.get(current, current),
                          ENCRYPTION_RETIRED_KEYS=",".join(names.get(r, r) for r in retired))
        return crypto.current_keyring().current.key_id

    yield use
    app.config.update(saved)


@pytest.fixture
def cards(people) -> list[int]:
    """Three saved cards of the buyer, sealed under the test configuration's key."""
    actor = Actor("buyer@test.example", "127.0.0.1", people["buyer"])
    return [vault.save(people["buyer"], "sandbox", f"pm_clikeys{n}", "visa", f"424{n}", 12, 2031,
                       f"print-{n}", actor) for n in range(3)]


def run(app, *args):
    db.session.rollback()  # the command reads what is committed
    return app.test_cli_runner().invoke(args=["keys", *args])


def card_lines(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()
            if line.startswith("saved_payment_methods")]


def test_status_counts_records_per_key(app, keys, cards):
    key_a = keys("A")
    result = run(app, "status")
    assert result.exit_code == 0, result.output
    assert card_lines(result.stdout) == [["saved_payment_methods", key_a, "3", "current"]]
    keys(B, "A")
    assert card_lines(run(app, "status").stdout) == [
        ["saved_payment_methods", key_a, "3", "retired"]]


def test_rotate_rewraps_then_has_nothing_left_to_do(app, keys, cards):
    key_a = keys("A")
    key_b = keys(B, "A")
    result = run(app, "rotate", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "saved_payment_methods: 3 re-wrapped, 0 failed" in result.stdout
    assert card_lines(run(app, "status").stdout) == [
        ["saved_payment_methods", key_b, "3", "current"]]
    again = run(app, "rotate")
    assert again.exit_code == 0 and "saved_payment_methods: 0 re-wrapped, 0 failed" in again.stdout
    assert key_a not in run(app, "status").stdout


def test_records_under_a_dropped_key_fail_loudly(app, keys, cards):
    key_a = keys("A")
    keys(B)  # A dropped before rotating
    status = run(app, "status")
    assert status.exit_code == 1
    assert ["saved_payment_methods", key_a, "3", "unknown"] in card_lines(status.stdout)
    assert "cannot be opened" in status.stderr
    result = run(app, "rotate")
    assert result.exit_code == 1
    assert "saved_payment_methods: 0 re-wrapped, 3 failed" in result.stdout
    for card in cards:
        assert (f"saved_payment_methods {card}: sealed under key '{key_a}', which the "
                "configuration no longer holds") in result.stderr


def test_status_of_an_empty_vault(app):
    result = run(app, "status")
    assert result.exit_code == 0 and result.stderr == ""
    assert "no sealed records" in result.stdout
