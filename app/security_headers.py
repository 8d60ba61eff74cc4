"""Security headers for every platform response."""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, g


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def csp_nonce() -> str:
    """The nonce of this request's inline-free scripts (one per request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _more(origins) -> str:
    return "".join(f" {origin}" for origin in origins)


def content_security_policy(psp_origins: list[str], nonce: str, *, scripts: list[str] = (),
                            connects: list[str] = (), extra_frames: list[str] = ()) -> str:
    """The platform's CSP: only our scripts, PSP pages only as frames and form targets; a PSP
    script (and what it connects to or frames) only where a page asked for it."""
    frames = " ".join(psp_origins)
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'{_more(scripts)}",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self'{_more(connects)}",
        f"frame-src {frames}{_more(extra_frames)}",
        # The checkout form's 303 goes to the PSP's hosted page; Chromium applies form-action
        # to that redirect, so the PSP origin must be listed.
        f"form-action 'self' {frames}",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ])


def allow_psp_origin(url: str) -> None:
    """Let this response frame (and post to) one more PSP page's origin."""
    g.extra_psp_origins = [*g.get("extra_psp_origins", []), origin_of(url)]


def allow_psp_script(url: str, *, connects: list[str] = (), frames: list[str] = ()) -> None:
    """Let this response run a PSP's script from its origin and frame that origin's pages
    (Stripe's Payment Element page), plus the API and frame origins the script needs."""
    origin = origin_of(url)
    g.extra_script_origins = [*g.get("extra_script_origins", []), origin]
    g.extra_frame_origins = [*g.get("extra_frame_origins", []), origin, *frames]
    g.extra_connect_origins = [*g.get("extra_connect_origins", []), *connects]


def stripe_checkout_origins(config) -> list[str]:
    """Stripe's hosted Checkout origin while Stripe is configured: the checkout form's 303
    goes there (read per request, so a config change needs no restart)."""
    if not config.get("STRIPE_SECRET_KEY"):
        return []
    return [origin_of(config.get("STRIPE_CHECKOUT_URL") or "https://checkout.stripe.com")]


def register(app: Flask) -> None:
    """Attach the headers after every request."""
    psp_origins = [origin_of(app.config["SANDBOX_PUBLIC_URL"])]

    @app.after_request
    def _headers(response):
        # A page may frame one more PSP origin for itself (the Braintree Drop-in page does).
        response.headers["Content-Security-Policy"] = content_security_policy(
            psp_origins + stripe_checkout_origins(app.config) + g.get("extra_psp_origins", []),
            csp_nonce(), scripts=g.get("extra_script_origins", []),
            connects=g.get("extra_connect_origins", []),
            extra_frames=g.get("extra_frame_origins", []))
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        return response
