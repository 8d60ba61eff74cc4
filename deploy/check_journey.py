"""A buyer's journey against a running `make run-prod`, in Debian's Chromium.

    .venv/bin/python -m deploy.check_journey http://127.0.0.1:5000 [--shots DIR]

Signs a new buyer up (production refuses the demo logins), pays one EUR item on the EU sandbox's
hosted page and one USD item on the US sandbox's, and waits for "Payment received." on each:
so the web tier, PostgreSQL, Redis, the webhook workers and both PSPs all did their part.
Any console error or failed request fails the check. Exit 0 when both orders are paid.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import secrets
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
ITEMS = (("Hand-thrown stoneware mug", "EUR"), ("Enamel camp kettle", "USD"))
EXPIRY = f"12/{(datetime.date.today().year + 5) % 100:02d}"


def journey(page, url: str, shots: Path | None) -> list[int]:
    """Sign up, then buy and pay each item; the paid order ids."""
    page.goto(f"{url}/signup")
    page.get_by_label("Name").fill("Prod Check Buyer")
    page.get_by_label("Email").fill(f"buyer-{secrets.token_hex(4)}@prod-check.example")
    page.get_by_label("Password").fill("a-long-enough-password")
    page.get_by_label("Buy").check()
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    orders = []
    for title, currency in ITEMS:
        page.goto(f"{url}/")
        page.locator("article.item").filter(
            has=page.get_by_role("heading", name=title, exact=True)
        ).get_by_role("button", name="Add to cart").click()
        page.wait_for_url("**/cart")
        page.get_by_role("button", name=f"Check out {currency} items").click()
        page.wait_for_url(re.compile(r"/checkout/\d+$"))
        order_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        page.get_by_label("Hosted payment page").check()
        page.get_by_role("button", name=re.compile(r"^Continue to payment")).click()
        page.get_by_label("Card number").fill("4242 4242 4242 4242")
        page.get_by_label("Expiry").fill(EXPIRY)
        page.get_by_label("CVC").fill("123")
        page.get_by_label("Name on card").fill("Prod Check")
        if shots:
            page.screenshot(path=str(shots / f"psp-{currency}.png"))
        page.get_by_role("button", name=re.compile(r"^Pay")).click()
        expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/return"))
        expect(page.get_by_text("Payment received.")).to_be_visible(timeout=60_000)
        if shots:
            page.screenshot(path=str(shots / f"paid-{currency}.png"), full_page=True)
        orders.append(order_id)
    return orders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:5000")
    parser.add_argument("--shots", type=Path, help="save screenshots here")
    args = parser.parse_args(argv)
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
        try:
            orders = journey(page, args.url.rstrip("/"), args.shots)
        finally:
            browser.close()
    for problem in problems:
        print(problem)
    print(f"paid orders: {orders}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
