"""Decline wording is the domain's: one sentence per code, whichever PSP declined the card."""
from __future__ import annotations

import pytest

from app.domain.declines import DECLINE_MESSAGES, DEFAULT_DECLINE_MESSAGE, decline_message
from app.providers.braintree import mapping as braintree_mapping


@pytest.mark.parametrize("code", sorted(DECLINE_MESSAGES))
def test_known_codes_get_their_own_words(code):
    assert decline_message(code) == DECLINE_MESSAGES[code] != DEFAULT_DECLINE_MESSAGE


@pytest.mark.parametrize("code", [None, "", "do_not_honor_9"])
def test_unknown_or_missing_codes_get_the_default(code):
    assert decline_message(code) == DEFAULT_DECLINE_MESSAGE


def test_every_braintree_decline_code_has_words():
    # Braintree's processor codes are mapped to ours; each must reach a specific sentence.
    assert set(braintree_mapping.DECLINE_CODES.values()) <= set(DECLINE_MESSAGES)
