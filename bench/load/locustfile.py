"""Locust users for `make load` (bench/load/__main__.py runs them headless, bounded, on loopback).

- HelloUser: GET / on a hello-world Flask app under the same gunicorn settings: the ceiling of
  this machine's web tier with no work at all, measured in the same run.
- CheckoutUser: a signed-up buyer adds an item, places the order and starts a hosted payment
  (the 303 to the PSP's page is not followed: paying is the buyer's time at the PSP).
- WebhookUser: the sandbox PSP delivering signed events (about sessions the platform does not
  know, so the worker records them as ignored without a PSP call).
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re
import secrets
import time

from locust import HttpUser, constant, task

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_events = itertools.count()


class HelloUser(HttpUser):
    wait_time = constant(0)

    @task
    def hello(self):
        self.client.get("/", name="hello")


class CheckoutUser(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.jar: dict[str, str] = {}
        self.item_id = os.environ["LOAD_ITEM_ID"]
        page = self.call("get", "/signup", name="signup form").text
        email = f"load-{secrets.token_hex(6)}@load.example"
        answer = self.call("post", "/signup", name="signup", data={
            "csrf_token": CSRF.search(page).group(1), "display_name": "Load Buyer",
            "email": email, "password": "load-test-password", "role": "buyer"})
        if answer.status_code != 303:
            raise RuntimeError(f"signup answered {answer.status_code}")
        self.csrf = CSRF.search(self.call("get", "/", name="shop").text).group(1)

    def call(self, method: str, path: str, **kwargs):
        """A request carrying our cookies by hand: production's are Secure (__Host-), which
        requests holds back over http; Chromium sends them to 127.0.0.1, and so do we."""
        response = getattr(self.client, method)(path, cookies=self.jar, allow_redirects=False,
                                                **kwargs)
        self.jar.update(response.cookies.get_dict())
        return response

    @task
    def checkout(self):
        self.call("post", "/cart/add", name="cart add",
                  data={"csrf_token": self.csrf, "item_id": self.item_id, "quantity": 1})
        with self.call("post", "/checkout", name="checkout: place order", catch_response=True,
                       data={"csrf_token": self.csrf, "currency": "EUR"}) as placed:
            location = placed.headers.get("Location", "")
            if placed.status_code != 303 or not re.search(r"/checkout/\d+$", location):
                placed.failure(f"{placed.status_code} → {location!r}")
                return
        order = location.rstrip("/").rsplit("/", 1)[1]
        with self.call("post", f"/checkout/{order}/pay", name="checkout: start payment",
                       catch_response=True,
                       data={"csrf_token": self.csrf, "mode": "hosted"}) as started:
            # Success is the 303 to the PSP's hosted page (another origin).
            if started.status_code != 303 or "/checkout/" in started.headers.get("Location", ""):
                started.failure(f"{started.status_code} → {started.headers.get('Location')!r}")


class WebhookUser(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.secret = os.environ["SANDBOX_WEBHOOK_SECRET"].encode()
        self.run = secrets.token_hex(4)

    @task
    def deliver(self):
        n, stamp = next(_events), int(time.time())
        body = json.dumps({
            "id": f"evt_load_{self.run}_{n}", "type": "payment_session.captured",
            "created": stamp, "data": {"object": {
                "id": f"ps_load_{self.run}_{n}", "object": "payment_session",
                "status": "captured", "amount": 4800, "amount_captured": 4800,
                "currency": "eur", "metadata": {}}}}).encode()
        mac = hmac.new(self.secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        self.client.post("/webhooks/sandbox", data=body, name="webhook", headers={
            "Content-Type": "application/json", "Sandbox-Signature": f"t={stamp},v1={mac}"})
