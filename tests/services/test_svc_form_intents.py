"""One-time form keys: the first submission acts, a repeat is told the same, a refusal frees
the key, and a key is good for one purpose only."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models.form_intents import FormIntent
from app.services import form_intents
from app.services.errors import Conflict, ServiceError


def test_the_first_submission_acts_and_a_repeat_is_told_the_same(app):
    calls = []
    key = form_intents.mint()

    first = form_intents.once(key, "hold:1:release", lambda: calls.append(1) or "Released.")
    again = form_intents.once(key, "hold:1:release", lambda: calls.append(2) or "Released.")

    assert (first.first, first.message) == (True, "Released.")
    assert (again.first, again.message) == (False, "Released.")
    assert calls == [1]


def test_a_refused_action_frees_the_key_for_the_corrected_form(app):
    key = form_intents.mint()

    def refuse() -> str:
        raise Conflict("Nothing is available to pay out in EUR.")

    with pytest.raises(Conflict):
        form_intents.once(key, "seller:3:payout:EUR", refuse)
    assert db.session.get(FormIntent, key) is None
    assert form_intents.once(key, "seller:3:payout:EUR", lambda: "Paid.").first


def test_an_action_that_died_keeps_its_key_and_the_repeat_is_warned(app):
    key = form_intents.mint()

    def dies() -> str:
        raise RuntimeError("worker lost")  # outcome unknown: money may have moved

    with pytest.raises(RuntimeError):
        form_intents.once(key, "review:9", dies)
    again = form_intents.once(key, "review:9", lambda: pytest.fail("must not run again"))
    assert not again.first and again.message == form_intents.IN_FLIGHT


@pytest.mark.parametrize("key", [None, "", "fi_short", "rf_" + "0" * 32, "fi_" + "G" * 32])
def test_a_missing_or_malformed_key_refuses_and_runs_nothing(app, key):
    with pytest.raises(ServiceError, match="out of date"):
        form_intents.once(key, "case:1:decide", lambda: pytest.fail("must not run"))


def test_a_key_spent_on_one_thing_is_refused_for_another(app):
    key = form_intents.mint()
    form_intents.once(key, "hold:1:release", lambda: "Released.")

    with pytest.raises(ServiceError, match="out of date"):
        form_intents.once(key, "hold:2:release", lambda: pytest.fail("must not run"))


def test_keys_are_unguessable_and_never_repeat(app):
    keys = {form_intents.mint() for _ in range(1000)}
    assert len(keys) == 1000 and all(form_intents.valid(k) for k in keys)
