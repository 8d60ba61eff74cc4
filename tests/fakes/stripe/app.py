"""The fake Stripe's Flask app: authentication, faults and idempotency around every API call."""
from __future__ import annotations

import hmac
import time
from functools import wraps

from flask import Flask, jsonify, request

from tests.fakes.stripe.forms import decode
from tests.fakes.stripe.state import ApiError, FakeStripe, IdempotencyRecord


def create_app(fake: FakeStripe | None = None) -> Flask:
    """A fake Stripe serving /v1 (API), /c/pay (hosted page), /v3/ and /elements (stripe.js,
    the Payment Element and the split Card Element) and /_fake (test controls)."""
    from tests.fakes.stripe import (
        card_fields,
        connect,
        controls,
        disputes,
        element,
        hosted,
        payments,
    )

    app = Flask(__name__)
    app.config["FAKE"] = fake or FakeStripe()
    for module in (payments, disputes, connect, element, card_fields):
        module.register(app, app.config["FAKE"])
    hosted.register(app, app.config["FAKE"])
    controls.register(app, app.config["FAKE"])
    return app


def _error(status: int, type_: str, message: str, code: str | None = None):
    body = {"error": {"type": type_, "message": message}}
    if code:
        body["error"]["code"] = code
    return jsonify(body), status


def api_route(app: Flask, fake: FakeStripe, rule: str, methods=("GET",)):
    """Register a Stripe API handler `fn(params, idempotency_key, **url_args) -> dict`."""

    def decorator(fn):
        @wraps(fn)
        def view(**kwargs):
            header = request.headers.get("Authorization", "")
            if not hmac.compare_digest(header, f"Bearer {fake.api_key}"):
                return _error(401, "invalid_request_error", "Invalid API Key provided.")
            fake.calls.append((request.method, request.path,
                               request.headers.get("Idempotency-Key")))
            pairs = (request.form if request.method == "POST" else request.args).items(multi=True)
            params = decode(pairs)
            fault = fake.next_fault(request.method)
            if fault == "5xx_before":
                return _error(500, "api_error", "An unknown error occurred (injected, before "
                                                "executing).")
            if fault == "429":
                return _error(429, "invalid_request_error", "Too many requests hit the API too "
                              "quickly.", code="rate_limit")
            if fault == "409":
                return _concurrent()
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            if key:
                with fake.lock:
                    record = fake.idempotency.get(key)
                    if record is not None:
                        return _replay(record, params)
                    record = fake.idempotency[key] = IdempotencyRecord(params=params)
            status, body, executed = _execute(fake, fn, params, key, kwargs)
            if fault == "5xx_after" and executed:
                status, body = 500, {"error": {"type": "api_error", "message":
                                               "An unknown error occurred (injected, after "
                                               "executing)."}}
            if key:
                with fake.lock:
                    if executed:  # Stripe saves the first answer, even a 500, once it acted
                        record.status, record.body, record.in_flight = status, body, False
                        record.executions += 1
                    else:
                        del fake.idempotency[key]
            if fault == "timeout_after":
                time.sleep(fake.timeout_sleep)  # the client gives up first; the work is done
            return jsonify(body), status

        app.add_url_rule(rule, endpoint=f"{fn.__module__}.{fn.__name__}", view_func=view,
                         methods=list(methods))
        return fn

    return decorator


def _execute(fake, fn, params, key, kwargs) -> tuple[int, dict, bool]:
    with fake.lock:  # one request changes the fake's objects at a time
        try:
            return 200, fn(params, key, **kwargs), True
        except ApiError as exc:
            return exc.status, exc.body, exc.executed
        except ValueError as exc:
            return 400, {"error": {"type": "invalid_request_error", "message": str(exc)}}, False


def _concurrent():
    return _error(409, "invalid_request_error", "There is currently another in-progress request "
                  "using this Stripe API key and idempotency key. Please try again later.",
                  code="idempotency_key_in_use")


def _replay(record: IdempotencyRecord, params: dict):
    if record.in_flight:
        return _concurrent()
    if record.params != params:
        return _error(400, "idempotency_error", "Keys for idempotent requests can only be used "
                      "with the same parameters they were first used with.")
    response = jsonify(record.body)
    response.status_code = record.status
    response.headers["Idempotent-Replayed"] = "true"
    return response
