"""Webhook delivery: signed POSTs from a background thread, retried with backoff, every attempt kept."""
import hashlib
import hmac
import json
import random
import threading
import time

import requests
from flask import Flask

from . import payouts, sessions
from .models import Delivery, DeliveryAttempt, atomic, db

SIGNATURE_HEADER = "Sandbox-Signature"
BATCH_SIZE = 100
# A claimed delivery is not picked again for this long, so two deliverers never send it twice.
CLAIM_LEASE_SECONDS = 60.0


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def retry_delay(attempts_made: int, base: float, rng=None) -> float:
    """Seconds before the next try: base, 2×base, 4×base… each ±25 % so retries do not align
    (`rng`: a seeded random, so a simulated run replays)."""
    return base * 2 ** (attempts_made - 1) * (rng or random).uniform(0.75, 1.25)


def deliver_due(app: Flask, now: float | None = None, send=None) -> int:
    """Expire overdue sessions, settle due payouts, send what is due; returns the attempts made.

    `send(app, url, payload)` → (status code or None, error or None) replaces the HTTP POST
    (an in-process caller); a seeded fault plan (faults.install_plan) decides each delivery's
    fate and the batch's order."""
    from .faults import plan_of

    at = now if now is not None else time.time()
    send = send or _send
    plan = plan_of(app)
    with app.app_context():
        with atomic():
            sessions.expire_due(at)
        with atomic():  # before the claim, so the payouts' events go out in this same tick
            payouts.settle_due(at)
        due = _claim_due(at)
        if plan is not None:
            due = plan.order(due)
        for delivery_id, url, payload in due:
            fate = plan.webhook(json.loads(payload)["type"]) if plan is not None else "deliver"
            if fate == "drop":
                status_code, error = 200, None   # lost on the way; the PSP believes it arrived
            elif fate == "fail":
                status_code, error = 503, None   # the receiver failed: retried later
            else:
                # No transaction is open while we wait on the network: the receiver may call
                # us back.
                status_code, error = send(app, url, payload)
                if fate == "duplicate":
                    send(app, url, payload)
            with atomic():
                _record_attempt(app, delivery_id, status_code, error, at,
                                rng=plan.rng if plan is not None else None)
    return len(due)


def _claim_due(at: float) -> list[tuple[int, str, bytes]]:
    with atomic():
        due = list(db.session.scalars(
            db.select(Delivery).where(Delivery.status == "pending", Delivery.next_attempt_at <= at)
            .order_by(Delivery.next_attempt_at, Delivery.id).limit(BATCH_SIZE)))
        for delivery in due:
            delivery.next_attempt_at = at + CLAIM_LEASE_SECONDS
        return [(d.id, d.url, json.dumps(d.event.to_dict()).encode()) for d in due]


def _send(app: Flask, url: str, payload: bytes) -> tuple[int | None, str | None]:
    headers = {"Content-Type": "application/json", "User-Agent": "HoldfastSandboxPSP/1.0",
               SIGNATURE_HEADER: sign(payload, app.config["SANDBOX_WEBHOOK_SECRET"], int(time.time()))}
    try:
        # bandit cannot see that the timeout comes from SANDBOX_WEBHOOK_TIMEOUT.
        response = requests.post(url, data=payload, headers=headers, allow_redirects=False,
                                 timeout=app.config["SANDBOX_WEBHOOK_TIMEOUT"])  # nosec B113
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]
    return response.status_code, None


def _record_attempt(app: Flask, delivery_id: int, status_code: int | None, error: str | None,
                    at: float, rng=None) -> None:
    delivery = db.session.get(Delivery, delivery_id)
    db.session.add(DeliveryAttempt(delivery_id=delivery_id, attempted_at=time.time(),
                                   status_code=status_code, error=error))
    delivery.attempt_count += 1
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.next_attempt_at = "succeeded", None
    elif delivery.attempt_count >= app.config["SANDBOX_WEBHOOK_MAX_ATTEMPTS"]:
        delivery.status, delivery.next_attempt_at = "failed", None
    else:
        base = app.config["SANDBOX_WEBHOOK_RETRY_BASE"]
        delivery.next_attempt_at = at + retry_delay(delivery.attempt_count, base, rng)


class Deliverer(threading.Thread):
    """A daemon thread calling deliver_due every `interval` seconds until stop()."""

    def __init__(self, app: Flask, interval: float):
        super().__init__(name="sandbox-psp-deliverer", daemon=True)
        self.app, self.interval = app, interval
        self._stopping = threading.Event()

    def run(self) -> None:
        """Loop until stopped; one failed tick is logged and the next one tries again."""
        while not self._stopping.wait(self.interval):
            try:
                deliver_due(self.app)
            except Exception:
                self.app.logger.exception("webhook deliverer tick failed")

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for the current tick to finish."""
        self._stopping.set()
        self.join(timeout)


def start_deliverer(app: Flask, interval: float = 0.2) -> Deliverer:
    """Start the background deliverer; call .stop() on the result to end it."""
    deliverer = Deliverer(app, interval)
    deliverer.start()
    return deliverer
