"""What a person does in the browser, shared by the journeys: log in, check out, pay."""
from __future__ import annotations

import datetime
import re
import time

from playwright.sync_api import expect

VISA = "4242 4242 4242 4242"
EXPIRY = f"12/{(datetime.date.today().year + 5) % 100:02d}"
PASSWORD = "correct-horse-battery"
PAID_WAIT_MS = 45_000  # an upper bound: the poll ends as soon as the worker applied the event


def log_in(page, who: str = "buyer") -> None:
    """Log in through the form as one of make_people's accounts (logging out first if needed);
    staff also type their authenticator code. Works at phone width too, where the navigation
    (and its Log out button) folds behind the Menu button."""
    page.goto("/login")
    if page.get_by_role("button", name="Log out", include_hidden=True).count():
        open_menu(page)
        page.get_by_role("button", name="Log out").click()
        page.goto("/login")
    page.get_by_label("Email").fill(f"{who}@test.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Attached, not visible: on a phone the signed-in navigation is folded away.
    logged_in = page.get_by_role("button", name="Log out", include_hidden=True)
    code = page.get_by_label("Authentication code")
    expect(logged_in.or_(code).first).to_be_attached()
    if code.count():  # staff sign in with a second step
        code.fill(staff_code(who))
        page.get_by_role("button", name="Log in").click()
    expect(logged_in).to_be_attached()


def open_menu(page) -> None:
    """On a phone, unfold the navigation behind the Menu button (no-op on a desktop)."""
    toggle = page.locator("#nav-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()


def staff_code(who: str) -> str:
    """The authenticator code of one of the enrolled staff accounts."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User
    from tests.flows import next_code

    db.session.rollback()
    return next_code(db.session.scalar(select(User.id).where(
        User.email == f"{who}@test.example")))


def check_out(page, *titles: str, currency: str = "EUR") -> int:
    """Put one of each item in the cart and check out the lines in `currency`; the order id."""
    for title in titles:
        page.goto("/")
        page.locator("article.item").filter(
            has=page.get_by_role("heading", name=title, exact=True)
        ).get_by_role("button", name="Add to cart").click()
        page.wait_for_url("**/cart")
    page.get_by_role("button", name=f"Check out {currency} items").click()
    page.wait_for_url(re.compile(r"/checkout/\d+$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def continue_to_payment(page, mode: str) -> None:
    """On the checkout page, pick "Hosted payment page" or "Embedded card form" and go on."""
    page.get_by_label(mode).check()
    page.get_by_role("button", name=re.compile(r"^Continue to payment")).click()


def pay_with(form, number: str, cards: set) -> None:
    """Type a card into the PSP's form (a page or the iframe) and press Pay."""
    cards.add(number)
    form.get_by_label("Card number").fill(number)
    form.get_by_label("Expiry").fill(EXPIRY)
    form.get_by_label("CVC").fill("123")
    form.get_by_label("Name on card").fill("Ada Buyer")
    form.get_by_role("button", name=re.compile(r"^Pay")).click()


def type_into_card_fields(page, number: str, cards: set) -> None:
    """Type into the PSP's three frames inside our own form (sandbox fields, Stripe's Card
    Element, Braintree's Hosted Fields label them alike), check our page holds none of it, then
    press our Pay button."""
    cards.add(number)
    page.frame_locator("#field-number iframe").get_by_label("Card number").fill(number)
    page.frame_locator("#field-expiry iframe").get_by_label("Expiry date").fill(EXPIRY)
    page.frame_locator("#field-cvc iframe").get_by_label("Security code (CVC)").fill("123")
    assert_no_card_data_on_our_page(page, number)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()


def assert_no_card_data_on_our_page(page, number: str) -> None:
    """Our page's own DOM (not the PSP's frames), its storage and cookies hold no card data."""
    digits = number.replace(" ", "")
    ours = page.main_frame.content()
    kept = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"
                         " + document.cookie")
    for text in (ours, kept):
        assert digits not in text and number not in text
    # What our page's script could read of the fields: nothing (another origin).
    readable = page.evaluate("""() => Array.from(document.querySelectorAll('iframe')).map(f => {
        try { return f.contentDocument && f.contentDocument.body.innerHTML; }
        catch (e) { return null; } })""")
    assert len(readable) >= 3 and set(readable) == {None}


def expect_paid(page, order_id: int) -> None:
    """On the return page, the htmx poll ends with "Payment received."."""
    expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/return"))
    expect(page.get_by_text("Payment received.")).to_be_visible(timeout=PAID_WAIT_MS)


def wait_for(read, until, timeout: float = 30.0):
    """Poll a database read (in a fresh transaction each time) until `until(value)`; fail with
    the last value seen if it never comes."""
    from app.extensions import db

    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        db.session.expire_all()
        value = read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout:.0f} s")
        time.sleep(0.1)


def confirm_dialog(page, accept: bool = True) -> list[str]:
    """Answer the next confirmation dialog (a form marked data-confirm): accept or dismiss it;
    the list returned gets its question once it was shown (check it with `expect_asked`)."""
    seen: list[str] = []

    def answer(dialog):
        seen.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", answer)
    return seen


def expect_asked(page, seen: list[str], asks: str) -> None:
    """The dialog `confirm_dialog` waited for was shown, with that question."""
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright dispatch the dialog event
    assert seen and re.search(asks, seen[0]), f"expected a confirmation like {asks!r}, saw {seen}"
