"""Rate limits on the endpoints people and bots hammer: 429 with Retry-After when exceeded.

Counted in Redis (services/security/throttle.py). When Redis is unreachable the limits are skipped and the
failure logged: a Redis outage should not take checkout and webhooks down with it (the login
lockout, in contrast, fails closed).
"""
from __future__ import annotations

from functools import wraps

from flask import current_app, make_response, request
from flask_login import current_user
from redis.exceptions import RedisError

from app.errors import error_response
from app.services.security import throttle


def too_many_requests(retry_after: int, message: str | None = None):
    """A 429 response (JSON or HTML, as the client wants) that says when to come back."""
    response = make_response(error_response(429, message))
    response.headers["Retry-After"] = str(retry_after)
    return response


def rate_limited(name: str, per: str = "ip", methods: tuple[str, ...] = ("POST",)):
    """Count requests (of methods) per client IP or per logged-in user against RATE_LIMITS[name]."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if request.method in methods:
                user_key = per == "user" and current_user.is_authenticated
                key = f"user:{current_user.id}" if user_key else \
                    f"ip:{request.remote_addr or 'unknown'}"
                try:
                    wait = throttle.rate_limit_hit(name, key)
                except RedisError:
                    current_app.logger.warning("rate limit %s skipped: Redis unavailable", name)
                    wait = None
                if wait is not None:
                    return too_many_requests(wait)
            return view(*args, **kwargs)

        return wrapped

    return decorator
