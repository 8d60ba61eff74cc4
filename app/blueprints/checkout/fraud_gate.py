"""The checkout's side of fraud screening: the buyer's device cookie and address, and the 429
that stops a card-testing burst at the endpoint (services/fraud/screening.gate), with the
buyer's checkout rate limit counted in the same Redis round trip."""
from __future__ import annotations

import re
import secrets
from functools import wraps

from flask import current_app, g, request
from flask_login import current_user
from redis.exceptions import RedisError

from app.blueprints.access import current_actor
from app.blueprints.rate_limits import too_many_requests
from app.services.fraud import screening
from app.services.fraud.screening import BuyerOrigin
from app.services.security import throttle

COOKIE = "holdfast_checkout_device"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
ONE_YEAR = 365 * 86400


def buyer_origin() -> BuyerOrigin:
    """This request's address and device; a new device token is handed out when missing."""
    if "fraud_origin" not in g:
        token = request.cookies.get(COOKIE, "")
        if not _TOKEN.match(token):
            token = g.new_device_token = secrets.token_urlsafe(24)
        # remote_addr: the client's own address only behind the trusted-proxy configuration.
        g.fraud_origin = BuyerOrigin(request.remote_addr, token)
    return g.fraud_origin


def screened_within(limit: str):
    """Refuse a buyer, address or device in a card-testing burst with 429 + Retry-After, make
    sure the browser keeps its device cookie, and count the buyer's requests against
    RATE_LIMITS[limit] (as rate_limited(limit, per="user") does) in the same Redis round trip
    as the gate's reads."""
    return lambda view: _gate(view, limit)


def _gate(view, limit: str):
    @wraps(view)
    def wrapped(*args, **kwargs):
        origin = buyer_origin()
        counted = throttle.RateCount(limit, f"user:{current_user.id}")
        try:
            screening.gate(current_user.id, current_user.email, origin, current_actor(),
                           counted=counted)
        except screening.Throttled as exc:
            return _with_cookie(too_many_requests(exc.retry_after, exc.message))
        except RedisError:
            current_app.logger.warning("fraud gate and rate limit %s skipped: Redis "
                                       "unavailable", limit)
        if counted.retry_after is not None:
            return _with_cookie(too_many_requests(counted.retry_after))
        return _with_cookie(current_app.make_response(view(*args, **kwargs)))

    return wrapped


def _with_cookie(response):
    token = g.get("new_device_token")
    if token:
        response.set_cookie(COOKIE, token, max_age=ONE_YEAR, httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response
