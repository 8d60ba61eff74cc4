"""Fixtures for the sandbox PSP: an app on a temporary SQLite file, a live webhook receiver, helpers."""
import datetime
import json
import re
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

import sandbox_psp
from sandbox_psp.models import db

API_KEY = "sk_test_fixture"
OTHER_API_KEY = "sk_test_other"
WEBHOOK_SECRET = "whsec_fixture"
PLATFORM_ORIGIN = "http://127.0.0.1:5000"
RETURN_URL = "http://127.0.0.1:5000/checkout/42/return"
FUTURE_EXPIRY = f"12/{(datetime.date.today().year + 4) % 100:02d}"


class Receiver:
    """A webhook endpoint that records every request and answers from a script of status codes."""

    def __init__(self):
        self.requests, self.script, self.url = [], [], None
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.requests.append({"headers": dict(request.headers), "body": request.get_data()})
            status = self.script.pop(0) if self.script else 200
        return Response("ok", status=status)(environ, start_response)

    def events(self) -> list[dict]:
        """The JSON bodies received so far."""
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver():
    """A live webhook receiver on a free loopback port."""
    receiver = Receiver()
    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.port}/webhooks/sandbox"
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "sandbox_psp.db"


@pytest.fixture
def app(db_path, receiver):
    app = sandbox_psp.create_app({
        "TESTING": True,
        "SANDBOX_DATABASE_URL": f"sqlite:///{db_path}",
        "SANDBOX_API_KEYS": f"{API_KEY},{OTHER_API_KEY}",
        "SANDBOX_WEBHOOK_URL": receiver.url,
        "SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SANDBOX_PLATFORM_ORIGIN": PLATFORM_ORIGIN,
        "SANDBOX_PUBLIC_URL": "http://127.0.0.1:5001",
        "SANDBOX_FINGERPRINT_KEY": "fingerprint-key-for-tests",
        "SANDBOX_WEBHOOK_RETRY_BASE": 2,
        "SANDBOX_WEBHOOK_MAX_ATTEMPTS": 4,
    })
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """Calls to the sandbox through the Flask test client, as the platform's adapter makes them."""

    # Test modules cannot import conftest, so the settings travel on this object.
    API_KEY, OTHER_API_KEY, WEBHOOK_SECRET = API_KEY, OTHER_API_KEY, WEBHOOK_SECRET
    PLATFORM_ORIGIN, RETURN_URL, FUTURE_EXPIRY = PLATFORM_ORIGIN, RETURN_URL, FUTURE_EXPIRY

    def __init__(self, client):
        self.client = client

    def post(self, path, body=None, key=None, api_key=API_KEY):
        headers = {"Authorization": f"Bearer {api_key}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(f"/v1{path}", json=body if body is not None else {}, headers=headers)

    def get(self, path, api_key=API_KEY, **query):
        return self.client.get(f"/v1{path}", query_string=query,
                               headers={"Authorization": f"Bearer {api_key}"})

    def create_session(self, **overrides) -> dict:
        body = {"amount": 2500, "currency": "eur", "mode": "hosted", "capture_method": "manual",
                "return_url": RETURN_URL, "cancel_url": "http://127.0.0.1:5000/checkout/42/cancel"}
        if overrides.get("mode") == "embedded":
            body.update(parent_origin=PLATFORM_ORIGIN)
        body.update(overrides)
        body = {k: v for k, v in body.items() if v is not None}
        response = self.post("/payment_sessions", body)
        assert response.status_code == 200, response.json
        return response.json

    def authorized_session(self, **overrides) -> dict:
        session = self.create_session(**overrides)
        response = self.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_visa"})
        assert response.status_code == 200, response.json
        return response.json

    def session(self, session_id) -> dict:
        return self.get(f"/payment_sessions/{session_id}").json

    def event_types(self) -> list[str]:
        """Every event's type, oldest first."""
        return [e["type"] for e in reversed(self.get("/events", limit="100").json["data"])]

    def page(self, session, kind="pay"):
        return self.client.get(f"/{kind}/{session['id']}")

    def submit_card(self, session, number, expiry=FUTURE_EXPIRY, cvc="123", kind="pay", name="Ada Buyer"):
        token = self.form_token(self.page(session, kind).text)
        return self.client.post(f"/{kind}/{session['id']}", data={
            "form_token": token, "card_number": number, "expiry": expiry, "cvc": cvc, "name": name})

    def answer_challenge(self, session, outcome, kind="pay"):
        token = self.form_token(self.client.get(f"/{kind}/{session['id']}/3ds").text)
        return self.client.post(f"/{kind}/{session['id']}/3ds", data={"form_token": token, "outcome": outcome})

    @staticmethod
    def form_token(html: str) -> str:
        """The hidden form token of a page."""
        return re.search(r'name="form_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def api(client):
    return Api(client)
