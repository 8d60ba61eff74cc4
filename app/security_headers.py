"""Security headers for every platform response.

The CSP names no PSP by default. A page that sends the buyer to a PSP's page, frames one or runs
its script asks for that PSP's origins for itself (`allow_psp`), with the origins the provider
declares (PaymentProvider.browser_origins): a new provider or a second instance of one needs no
edit here, and a page that needs no PSP lists none.
"""
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


NONE = " 'none'"


def _more(origins) -> str:
    return "".join(f" {origin}" for origin in dict.fromkeys(origins))


def content_security_policy(nonce: str, *, forms=(), frames=(), scripts=(),
                            connects=()) -> str:
    """The platform's CSP: only our scripts, no frames, forms posting to us only; plus the PSP
    origins this page asked for."""
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'{_more(scripts)}",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self'{_more(connects)}",
        f"frame-src{_more(frames) or NONE}",
        # The checkout form's 303 goes to the PSP's hosted page; Chromium applies form-action
        # to that redirect, so the PSP origin must be listed.
        f"form-action 'self'{_more(forms)}",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ])


def allow_psp(origins, *, navigate: bool = False, embed: bool = False) -> None:
    """Let this response reach one PSP's browser origins (a providers.base.BrowserOrigins):
    `navigate`: our form may be redirected to its hosted page; `embed`: the page frames its
    card form or runs its script (and what that script frames and fetches)."""
    if navigate:
        g.psp_forms = [*g.get("psp_forms", []), *origins.hosted]
    if embed:
        g.psp_frames = [*g.get("psp_frames", []), *origins.frames]
        g.psp_scripts = [*g.get("psp_scripts", []), *origins.scripts]
        g.psp_connects = [*g.get("psp_connects", []), *origins.connects]


def register(app: Flask) -> None:
    """Attach the headers after every request."""

    @app.after_request
    def _headers(response):
        response.headers["Content-Security-Policy"] = content_security_policy(
            csp_nonce(), forms=g.get("psp_forms", []), frames=g.get("psp_frames", []),
            scripts=g.get("psp_scripts", []), connects=g.get("psp_connects", []))
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        return response
