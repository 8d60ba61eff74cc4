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

A seeded `FaultPlan` (install_plan; the simulation in sim/ uses it) draws a fault for API calls
the queue leaves alone, and decides the fate of each webhook delivery (delivered, dropped,
failed for a later retry, duplicated) and the order of each batch — all from one seed, so a run
replays exactly. A `timeout_after` with delay 0 does not sleep: it marks the answer with a
`Sandbox-Fault: timeout_after` header, and an in-process caller turns it into its own timeout.
"""
import random
import threading
import time
from dataclasses import dataclass, field

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


@dataclass
class FaultPlan:
    """Faults drawn from one seed: `api_rate` of keyed POSTs fail one of FAULTS' ways;
    `webhook_rates` gives the odds of a delivery being dropped, failed or duplicated.

    The draws of each step of a run come from their own stream (`at(step)`), and each fault
    drawn has an id "<step>.<n>": leaving steps out or muting faults (a shrinker's
    doing: `only` keeps those ids and mutes every other) changes no other draw, so a shrunk run
    replays the rest of the original exactly."""

    seed: int
    api_rate: float = 0.15
    webhook_rates: dict = field(default_factory=lambda: {"drop": 0.08, "fail": 0.15,
                                                         "duplicate": 0.12})
    enabled: bool = True
    only: frozenset | None = None               # the fault ids that may fire (None: all)
    drawn: list = field(default_factory=list)   # (id, what, where, fault): the fault trace

    def __post_init__(self):
        self.at("start")

    def at(self, step) -> None:
        """Draw from `step`'s own stream from now on."""
        self.rng = random.Random(f"faults:{self.seed}:{step}")
        self.step, self.count = step, 0

    def _keep(self, what: str, where: str, fault: str) -> bool:
        self.count += 1
        fault_id = f"{self.step}.{self.count}"
        if self.only is not None and fault_id not in self.only:
            return False
        self.drawn.append((fault_id, what, where, fault))
        return True

    def api(self, method: str, path: str) -> dict | None:
        """The fault for this API call, or None."""
        if not self.enabled or method != "POST" or path.startswith("/v1/test_helpers"):
            return None
        if self.rng.random() >= self.api_rate:
            return None
        fault = self.rng.choice(FAULTS)
        if not self._keep("api", f"{method} {path}", fault):
            return None
        return {"fault": fault, "count": 1, "path": "", "method": "", "retry_after": 1.0,
                "delay": 0.0}

    def webhook(self, event_type: str) -> str:
        """"deliver", "drop" (lost, the PSP believes it arrived), "fail" (retried later, so
        it arrives late and out of order) or "duplicate"."""
        if not self.enabled:
            return "deliver"
        draw, edge = self.rng.random(), 0.0
        for fate, rate in self.webhook_rates.items():
            edge += rate
            if draw < edge:
                return fate if self._keep("webhook", event_type, fate) else "deliver"
        return "deliver"

    def order(self, batch: list) -> list:
        """The batch in the order this run delivers it (reordered when faults are on)."""
        if self.enabled:
            self.rng.shuffle(batch)
        return batch


def install_plan(app: Flask, plan: FaultPlan | None) -> None:
    """Apply `plan` to this sandbox's API calls and webhook deliveries (None: stop)."""
    app.extensions["sandbox_fault_plan"] = plan


def plan_of(app: Flask) -> FaultPlan | None:
    """The installed fault plan, if any."""
    return app.extensions.get("sandbox_fault_plan")


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
        plan = plan_of(current_app)
        if plan is not None and request.headers.get("Idempotency-Key"):
            return plan.api(request.method, path)
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
        if fault["delay"] <= 0:
            response.headers["Sandbox-Fault"] = "timeout_after"
            return response
        time.sleep(fault["delay"])  # the work is committed; the caller has given up by now
    return response
