"""Steps the platform tests share: accounts, buying, paying at the sandbox, settling webhooks."""
from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pyotp
import requests
from rq import SimpleWorker
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from app import clock, crypto
from app.clock import now
from app.extensions import db, queues
from app.models import AuditRecord, Item, Order, Payment, User
from app.models.fulfilment import Address
from app.models.security import MfaSecret

API_KEY = "sk_test_platform_suite"
PASSWORD = "correct-horse-battery"
# Staff (support, admin) are enrolled in two-step sign-in with this secret.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
STAFF = ("support", "admin")


def make_people(password_hash: str) -> dict:
    """Create buyer, other_buyer, seller, other_seller, support, admin and items; ids by name."""
    spec = {"buyer": "buyer", "other_buyer": "buyer", "seller": "seller",
            "other_seller": "seller", "support": "support", "admin": "admin"}
    ids: dict = {}
    for name, role in spec.items():
        user = User(email=f"{name}@test.example", display_name=name.replace("_", " ").title(),
                    role=role, password_hash=password_hash)
        db.session.add(user)
        db.session.flush()
        ids[name] = user.id
        if role in STAFF:
            enrol(user)
        if role == "buyer":  # physical orders ship somewhere: each buyer has a saved address
            db.session.add(Address(user_id=user.id, name=user.display_name,
                                   street_address="Unter den Linden 1", city="BERLIN",
                                   postal_code="10117", country_code="DE"))
    catalogue = [("seller", "Mug", 2400, "EUR", 10), ("seller", "Board", 5900, "USD", 5),
                 ("other_seller", "Candle", 1690, "EUR", 10),
                 ("other_seller", "Kettle", 4200, "USD", 3)]
    for owner, title, price, currency, stock in catalogue:
        item = Item(seller_id=ids[owner], title=title, description="", price_amount=price,
                    currency=currency, stock=stock)
        db.session.add(item)
        db.session.flush()
        ids[title.lower()] = item.id
    db.session.commit()
    return ids


def enrol(user: User, secret: str = TOTP_SECRET) -> None:
    """Give a staff user a confirmed TOTP secret (in the caller's transaction)."""
    row = MfaSecret(user_id=user.id, confirmed_at=now())
    row.sealed = crypto.encrypt(secret.encode(), row.associated_data())
    user.mfa_enabled_at = row.confirmed_at
    db.session.add(row)


def next_code(user_id: int, secret: str = TOTP_SECRET) -> str:
    """A TOTP code the server accepts now: the current step, or the next one when the current
    step was already used. When both were, the platform's clock (tests/clocks.py, installed for
    every test) is moved on to that next step instead of waiting up to 30 s for the wall clock."""
    db.session.rollback()
    last = db.session.get(MfaSecret, user_id).last_used_step
    current = int(clock.timestamp()) // 30
    if last + 1 > current + 1:
        advance = getattr(clock.timestamp, "advance", None)
        assert advance is not None, "next_code needs the platform_clock fixture (tests/conftest.py)"
        advance((last + 1 - current) * 30)  # whole steps: last + 1 becomes the current step
        current = last + 1
    return pyotp.TOTP(secret).at(max(current, last + 1) * 30)


def login(client, who: str) -> None:
    """Log the test client in as one of make_people's accounts (staff type their code too)."""
    response = client.post("/login", data={"email": f"{who}@test.example", "password": PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    if response.headers["Location"] != "/login/code":
        return
    user_id = db.session.execute(db.select(User.id).where(
        User.email == f"{who}@test.example")).scalar_one()
    response = client.post("/login/code", data={"code": next_code(user_id)})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]


def add(client, item_id: int, quantity: int = 1) -> None:
    """Put an item in the logged-in buyer's cart."""
    response = client.post("/cart/add", data={"item_id": item_id, "quantity": quantity})
    assert response.status_code == 303


def order_and_start(client, currency: str = "EUR", mode: str = "hosted") -> tuple[int, Payment]:
    """Check out the cart's lines in one currency and start the payment; (order id, payment)."""
    response = client.post("/checkout", data={"currency": currency})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    order_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    response = client.post(f"/checkout/{order_id}/pay", data={"mode": mode})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return order_id, latest_payment(order_id)


def latest_payment(order_id: int) -> Payment:
    """The order's current payment, freshly read."""
    db.session.expire_all()
    return db.session.get(Order, order_id).current_payment


def paid_order(client, people: dict, stack: dict, psp, items: dict[str, int],
               buyer: str = "buyer") -> int:
    """Log in, buy items ({name: quantity}) in EUR, pay hosted with a Visa at the sandbox, settle:
    the captured order's id."""
    login(client, buyer)
    for name, quantity in items.items():
        add(client, people[name], quantity)
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(psp)
    assert latest_payment(order_id).status == "captured"
    return order_id


def form_key(html: str, action: str) -> str:
    """The one-time key (services/form_intents.py) of the page's form posting to action."""
    for form in re.findall(r"<form\b.*?</form>", html, re.S):
        if f'action="{action}"' in form:
            return re.search(r'name="intent" value="(fi_[0-9a-f]{32})"', form).group(1)
    raise AssertionError(f"no form posting to {action}")


def psp_call(base_url: str, method: str, path: str, body: dict | None = None, key: str | None = None):
    """Call the sandbox PSP's API as the platform would."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    if key:
        headers["Idempotency-Key"] = key
    return requests.request(method, base_url + path, json=body, headers=headers, timeout=10)


def pay_one(app, stack: dict, buyer: str, item_id: int,
            payment_method: str = "pm_card_visa") -> Payment:
    """A fresh browser session: `buyer` logs in, orders one item in EUR and pays on the hosted
    page with `payment_method` (a decline or a dispute card too); nothing settled yet."""
    client = app.test_client()
    login(client, buyer)
    add(client, item_id)
    _, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference, payment_method)
    return payment


def buyer_pays(psp_url: str, session_id: str, payment_method: str = "pm_card_visa"):
    """Stand in for the buyer on the PSP's page: authorize with a test token."""
    return psp_call(psp_url, "POST", f"/v1/payment_sessions/{session_id}/authorize",
                    {"payment_method": payment_method})


class InProcessWorker(SimpleWorker):
    """RQ's SimpleWorker without its command channel: nobody sends a burst run inside the test
    process commands (shutdown, kill-horse), and stopping the channel's listener thread cost up
    to a second per run (RQ joins it with a 1 s timeout when it missed the stop), on every
    settle() of the suite."""

    def subscribe(self) -> None:
        pass  # no listener thread: RQ's unsubscribe() then has nothing to stop


def run_jobs() -> int:
    """Run every queued job in this process (an RQ SimpleWorker in burst mode)."""
    queue = queues.queue
    count = len(queue)
    if count:
        InProcessWorker([queue], connection=queues.connection).work(burst=True)
    return count


def settle(psp_app, rounds: int = 20) -> None:
    """Deliver the PSP's due webhooks and run the jobs they cause, until nothing is left."""
    from sandbox_psp.webhooks import deliver_due

    for _ in range(rounds):
        delivered = deliver_due(psp_app)
        worked = run_jobs()
        if not delivered and not worked:
            return
    raise AssertionError("webhooks and jobs did not settle")


def route_all_to(provider: str, folder: Path, rule: str | None = None) -> Path:
    """A one-rule routing file (for ROUTING_FILE) sending every payment to `provider`."""
    rule = rule or f"all-{provider}"
    path = folder / f"routing-{rule}.toml"
    path.write_text(f'version = 1\n\n[[rule]]\nname = "{rule}"\n'
                    f'description = "Every payment goes to {provider} in these tests."\n'
                    f'providers = ["{provider}"]\n')
    return path


class SlowProxy:
    """A WSGI PSP whose answers arrive too late: it forwards the call to the real one (or not),
    then holds the answer back until `settled()` (serve it with serve_wsgi, use it with
    swap_provider and a short timeout). The answer cannot beat the client's timeout however
    loaded the machine is, and the test never races the forwarded call."""

    HOLD_SECONDS = 60.0  # only if a test forgets settled(): the client gave up long before

    def __init__(self, psp_url: str, forward: bool):
        self.psp_url, self.forward = psp_url, forward
        self.forwarded = threading.Event()  # the real PSP answered (or was never called)
        self._release = threading.Event()

    def __call__(self, environ, start_response):
        request = Request(environ)
        status, body = 200, "{}"
        try:
            if self.forward:
                headers = {k: v for k, v in request.headers.items()
                           if k in ("Authorization", "Idempotency-Key", "Content-Type")}
                answer = requests.request(request.method,
                                          self.psp_url + request.full_path.rstrip("?"),
                                          data=request.get_data(), headers=headers, timeout=30)
                status, body = answer.status_code, answer.text
        finally:
            self.forwarded.set()
        self._release.wait(self.HOLD_SECONDS)
        return Response(body, status=status, mimetype="application/json")(environ,
                                                                          start_response)

    def settled(self, timeout: float = 60.0) -> None:
        """Call once the client has given up: waits until the forwarded call is done at the
        real PSP, then lets the late answer go."""
        assert self.forwarded.wait(timeout), "the slow proxy never got the call"
        self._release.set()


def slow_proxy(psp_url: str, forward: bool) -> SlowProxy:
    """A SlowProxy (see there): call its settled() after the client's timeout."""
    return SlowProxy(psp_url, forward)


def eventually(condition, timeout: float = 30.0, interval: float = 0.02):
    """Poll `condition` until it returns something truthy (returned) or `timeout` seconds pass
    (AssertionError). The deadline only bounds a real hang: under load the wait is as long as
    it takes, and without load it ends as soon as the condition holds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {condition}")
        time.sleep(interval)


def closed_port_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def assert_never_stored(model, secrets: list[str], file_marker: bytes | None = None) -> None:
    """No secret in any column of the model's rows, in any audit record, or (SQLite) anywhere in
    the database file and its WAL; `file_marker` proves the scan read the right file."""
    for row in db.session.execute(select(model)).scalars():
        for column in model.__table__.columns:
            value = getattr(row, column.key)
            blob = value if isinstance(value, bytes) else str(value).encode()
            assert not any(s.encode() in blob for s in secrets), column.key
    for entry in db.session.execute(select(AuditRecord)).scalars():
        assert not any(s in entry.details for s in secrets)
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        db.session.commit()
        files = [Path(url.database), Path(url.database + "-wal")]
        data = b"".join(f.read_bytes() for f in files if f.exists())
        assert data  # the scan looked at something
        assert file_marker is None or file_marker in data
        assert not any(s.encode() in data for s in secrets)
