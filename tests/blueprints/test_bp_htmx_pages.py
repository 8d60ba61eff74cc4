"""Pages htmx refreshes in part (app/htmx_pages.py): htmx gets the partial, a browser the whole
page, and both say `Vary: HX-Request` so that no cache hands one out for the other."""
from __future__ import annotations

import pytest

from tests.flows import login

HTMX = {"HX-Request": "true"}
# URL, who may see it, and a mark of the partial (the whole page includes the partial).
PAGES = [("/seller/balances", "seller", 'id="balances"'),
         ("/seller/payouts?watching=1", "seller", 'id="payouts"'),
         ("/support/disputes", "support", "No cases match.")]


@pytest.mark.parametrize(("url", "who", "partial_mark"), PAGES)
def test_htmx_gets_the_partial_and_a_browser_the_page_both_varying_on_hx_request(
        app, people, url, who, partial_mark):
    client = app.test_client()
    login(client, who)
    partial = client.get(url, headers=HTMX)
    page = client.get(url)
    assert partial.status_code == page.status_code == 200
    assert partial_mark in partial.get_data(as_text=True)
    assert "<html" not in partial.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True) and partial_mark in page.get_data(as_text=True)
    assert "HX-Request" in partial.headers["Vary"] and "HX-Request" in page.headers["Vary"]


def test_the_dashboard_itself_is_always_the_page_and_still_varies(app, people):
    client = app.test_client()
    login(client, "seller")
    for headers in ({}, HTMX):
        response = client.get("/seller", headers=headers)
        assert "<html" in response.get_data(as_text=True)
        assert "HX-Request" in response.headers["Vary"]


def test_hx_trigger_goes_with_the_partial_only(app, people):
    """A watched payout list with nothing in flight tells htmx to refresh the balances."""
    client = app.test_client()
    login(client, "seller")
    assert client.get("/seller/payouts?watching=1", headers=HTMX) \
        .headers["HX-Trigger"] == "balances-changed"
    assert "HX-Trigger" not in client.get("/seller/payouts?watching=1").headers
    assert "HX-Trigger" not in client.get("/seller/payouts", headers=HTMX).headers
