"""Every role walks its pages in Chromium: the navigation's links and every same-origin link one
click deeper, on a shop with orders paid on both sandbox instances and a chargeback case. The
page watcher (tests/e2e/watch.py) fails the walk on any console error, failed or 4xx/5xx request
to our origins, or CSP violation; downloads are fetched as requests, not navigated to.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.e2e.steps import log_in, wait_for

pytestmark = pytest.mark.e2e

ROLES = ("anonymous", "buyer", "seller", "support", "admin")
MAX_PAGES = 60  # per role: enough for every page kind, bounded however much data there is
# Fetched with a request (a navigation to them starts a download).
DOWNLOAD = re.compile(r"\.(csv|pdf|zip|json)$|/download\b|/evidence/")
# The fewest pages each role must reach, so a broken navigation cannot pass as a short walk.
AT_LEAST = {"anonymous": 4, "buyer": 8, "seller": 8, "support": 6, "admin": 8}
LINKS = "els => els.filter(a => !a.hasAttribute('download')).map(a => a.href)"
DOWNLOADS = "els => els.filter(a => a.hasAttribute('download')).map(a => a.href)"


@pytest.fixture
def seeded(stack, topology, shop):
    """Three orders paid through the API as the buyer would (EUR on sandbox, USD on
    sandbox_us), one with the dispute card so the PSP opens a chargeback; waits until the live
    worker has captured them all and made the case."""
    from app.extensions import db
    from app.models import DisputeCase, Payment
    from tests.flows import add, buyer_pays, login, order_and_start
    from tests.isolated_client import IsolatedClient

    stack["app"].test_client_class = IsolatedClient  # each request its own app context
    client = stack["app"].test_client()
    login(client, "buyer")
    payments = []
    for item, currency, card in (("mug", "EUR", "pm_card_createDispute"),
                                 ("board", "USD", "pm_card_visa"),
                                 ("candle", "EUR", "pm_card_visa")):
        add(client, shop[item])
        _, payment = order_and_start(client, currency, "hosted")
        paid = buyer_pays(topology[payment.provider].url, payment.psp_reference, card)
        assert paid.status_code == 200, paid.text
        payments.append(payment.id)
    assert {db.session.get(Payment, p).provider for p in payments} == {"sandbox", "sandbox_us"}
    captured = wait_for(lambda: [db.session.get(Payment, p).status for p in payments],
                        lambda states: set(states) <= {"captured", "disputed"}, timeout=60)
    assert set(captured) <= {"captured", "disputed"}, captured
    assert wait_for(lambda: db.session.query(DisputeCase).count(), bool, timeout=60)
    return shop


def same_origin(base: str, url: str) -> str | None:
    """The URL without its fragment when it is on the platform's origin, else None."""
    parts, home = urlsplit(url), urlsplit(base)
    if (parts.scheme, parts.netloc) != (home.scheme, home.netloc):
        return None
    return urlunsplit(parts._replace(fragment=""))


class Walk:
    """Visit each path once (the first URL seen for it), navigation first, then one deeper."""

    def __init__(self, page, base: str):
        self.page, self.base = page, base
        self.visited: dict[str, int] = {}   # path → status
        self.fetched: dict[str, int] = {}   # download path → status

    def links(self, selector: str = "a[href]") -> tuple[list[str], list[str]]:
        """Same-origin links on the current page, and download links."""
        pages = self.page.eval_on_selector_all(selector, LINKS)
        downloads = self.page.eval_on_selector_all(selector, DOWNLOADS)
        keep = [u for u in (same_origin(self.base, url) for url in pages) if u]
        files = [u for u in (same_origin(self.base, url) for url in downloads) if u]
        return ([u for u in keep if not DOWNLOAD.search(urlsplit(u).path)],
                files + [u for u in keep if DOWNLOAD.search(urlsplit(u).path)])

    def visit(self, url: str) -> list[str]:
        """Open a page (once per path); the same-origin links it shows."""
        path = urlsplit(url).path
        if path in self.visited or len(self.visited) >= MAX_PAGES:
            return []
        response = self.page.goto(url)
        self.visited[path] = response.status if response else 0
        pages, downloads = self.links()
        for file in downloads:
            self.fetch(file)
        return pages

    def fetch(self, url: str) -> None:
        path = urlsplit(url).path
        if path not in self.fetched:
            self.fetched[path] = self.page.request.get(url).status


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_can_reach_loads_cleanly(page, seeded, stack, role):
    if role != "anonymous":
        log_in(page, role)
    walk = Walk(page, stack["url"])
    page.goto("/")
    navigation, _ = walk.links("header a[href]")
    deeper = [link for url in [page.url, *navigation] for link in walk.visit(url)]
    for url in deeper:
        walk.visit(url)

    print(f"{role} visited {sorted(walk.visited)}; fetched {sorted(walk.fetched)}")
    bad = {path: status for path, status in (walk.visited | walk.fetched).items()
           if not 200 <= status < 400}
    assert not bad, f"{role}: pages that did not load: {bad}"
    assert len(walk.visited) >= AT_LEAST[role], sorted(walk.visited)
