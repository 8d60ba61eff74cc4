"""Test helper: make the next API calls fail the ways real PSPs fail (docs/sandbox-psp.md).

`POST /v1/test_helpers/faults` `{fault, count?, path?, method?, retry_after?, delay?}` queues a
fault for the next `count` API calls whose path contains `path` (and whose method is `method`):

- `5xx_before`: 500 `api_error` before anything runs (nothing executed, nothing saved);
- `5xx_after`: the call executes and commits (its Idempotency-Key saves the real answer), then
  the caller gets a 500 instead — a retry with the same key replays the real answer;
- `timeout_after`: the call executes, then the answer is held back `delay` seconds (longer
  than the caller's timeout);
- `409`: 409 `idempotency_error` "in progress", nothing executed;
- `429`: 429 `rate_limit_error` with `Retry-After: retry_after`, nothing executed.

`GET` lists the faults still queued; `DELETE` clears them. Only when SANDBOX_TEST_HELPERS is
on (the default; a demo PSP shared by people may turn it off). Faults live in the process's
memory: they are for one test, not a setting.
"""
import threading
import time

from flask import Blueprint, Flask, current_app, g, jsonify, request

from .errors import ApiError, invalid

FAULTS = ("5xx_before", "5xx_after", "timeout_after", "409", "429")
bp = Blueprint("faults", __name__, url_prefix="/v1/test_helpers/faults")
_lock = threading.Lock()


def init_app(app: Flask) -> None:
    """Register the helper and the hooks that apply queued faults, when test helpers are on."""
    if not app.config.get("SANDBOX_TEST_HELPERS", True):
        return
    app.extensions["sandbox_faults"] = []
    app.register_blueprint(bp)
    app.before_request(_before)
    app.after_request(_after)


@bp.before_request
def _authenticate():
    from .api import authenticate

    authenticate()


@bp.post("")
def add():
    """Queue a fault for the next matching API calls."""
    body = request.get_json(silent=True) or {}
    fault = body.get("fault")
    if fault not in FAULTS:
        raise invalid("fault", f"fault must be one of {', '.join(FAULTS)}.")
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
        raise invalid("count", "count must be a whole number from 1 to 100.")
    entry = {"fault": fault, "count": count, "path": str(body.get("path") or ""),
             "method": str(body.get("method") or "").upper(),
             "retry_after": float(body.get("retry_after", 1)),
             "delay": float(body.get("delay", 3))}
    with _lock:
        current_app.extensions["sandbox_faults"].append(entry)
    return jsonify({"object": "fault", **entry})


@bp.get("")
def listing():
    """The faults still queued."""
    with _lock:
        data = [dict(f) for f in current_app.extensions["sandbox_faults"]]
    return jsonify({"object": "list", "data": data, "has_more": False})


@bp.delete("")
def clear():
    """Forget every queued fault."""
    with _lock:
        current_app.extensions["sandbox_faults"].clear()
    return jsonify({"object": "list", "data": [], "has_more": False})


def _take() -> dict | None:
    path = request.path
    if not path.startswith("/v1/") or path.startswith(("/v1/test_helpers/faults", "/v1/_stats")):
        return None
    with _lock:
        queue = current_app.extensions["sandbox_faults"]
        for entry in queue:
            if entry["path"] in path and entry["method"] in ("", request.method):
                entry["count"] -= 1
                if entry["count"] <= 0:
                    queue.remove(entry)
                return entry
    return None


def _before():
    g.sandbox_fault = fault = _take()
    if fault is None:
        return None
    if fault["fault"] == "5xx_before":
        raise ApiError(500, "api_error", "internal_error", "An error occurred in the sandbox PSP.")
    if fault["fault"] == "409":
        raise ApiError(409, "idempotency_error", "idempotency_key_in_use",
                       "Another request with this Idempotency-Key is in progress; retry later.")
    if fault["fault"] == "429":
        response = jsonify(ApiError(429, "rate_limit_error", "rate_limit",
                                    "Too many requests; slow down.").body())
        response.status_code = 429
        response.headers["Retry-After"] = f"{fault['retry_after']:g}"
        return response
    return None


def _after(response):
    fault = g.pop("sandbox_fault", None)
    if fault is None:
        return response
    if fault["fault"] == "5xx_after":
        failed = jsonify(ApiError(500, "api_error", "internal_error",
                                  "An error occurred in the sandbox PSP.").body())
        failed.status_code = 500
        return failed
    if fault["fault"] == "timeout_after":
        time.sleep(fault["delay"])  # the work is committed; the caller has given up by now
    return response
