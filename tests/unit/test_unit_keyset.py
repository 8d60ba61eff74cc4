"""Keyset cursors: they round-trip the sort keys and refuse anything a reader could forge."""
from __future__ import annotations

from datetime import datetime

import pytest

from app.keyset import Page, decode, encode
from app.services.errors import ServiceError


def test_a_cursor_round_trips_ints_and_datetimes():
    at = datetime(2026, 12, 7, 12, 30, 1, 250)
    assert decode(encode([1, at, 42]), (int, datetime, int)) == [1, at, 42]


@pytest.mark.parametrize("cursor", [
    "!!!", "e30", encode([1, 2]), encode(["x"]), encode([True]), encode([2**63]),
    encode([1.5]), "A" * 600])
def test_forged_or_foreign_cursors_are_a_readable_400(cursor):
    with pytest.raises(ServiceError, match="page link is not valid") as caught:
        decode(cursor, (int,))
    assert caught.value.status == 400


def test_next_args_keep_the_filters_and_replace_the_old_cursor():
    page = Page([1], "abc", "after")
    assert page.next_args(q="x", status="", after="old") == {"q": "x", "after": "abc"}
