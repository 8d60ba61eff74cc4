"""A stand-in for Braintree's Drop-in UI, served from the fake's own origin.

The real Drop-in loads from Braintree's CDN, which cannot load offline. This page plays its part:
inside an iframe on the fake's origin it asks for a test card, tokenizes it with the client
token's authorization fingerprint, and hands only the resulting payment_method_nonce to the
platform page by postMessage — to the one parent origin it was given. Card data never reaches
the platform.
"""
from __future__ import annotations

import base64
import json
from html import escape
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request

from tests.fakes.braintree.state import CARDS, Gateway

dropin = Blueprint("braintree_dropin", __name__)
MESSAGE_SOURCE = "braintree-dropin-standin"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Card details</title>
<script src="/dropin/frame.js" defer></script></head>
<body>
<form id="card-form" data-origin="{origin}" data-fingerprint="{fingerprint}">
  <label>Card number <input name="number" autocomplete="cc-number" inputmode="numeric"></label>
  <label>Expiry (MM/YY) <input name="expiry" autocomplete="cc-exp"></label>
  <label>CVV <input name="cvv" autocomplete="cc-csc" inputmode="numeric"></label>
  <button type="submit">Use this card</button>
  <p id="error" role="alert"></p>
</form>
</body></html>"""

FRAME_JS = """(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("card-form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {fingerprint: form.dataset.fingerprint, number: form.number.value,
                  expiry: form.expiry.value, cvv: form.cvv.value};
      fetch("/dropin/tokenize", {method: "POST", headers: {"Content-Type": "application/json"},
                                 body: JSON.stringify(body)})
        .then(function (r) { return r.json().then(function (d) { return [r.ok, d]; }); })
        .then(function (res) {
          if (!res[0]) { document.getElementById("error").textContent = res[1].error; return; }
          window.parent.postMessage({source: "MESSAGE_SOURCE", nonce: res[1].nonce,
                                     details: res[1].details}, form.dataset.origin);
        });
    });
  });
})();""".replace("MESSAGE_SOURCE", MESSAGE_SOURCE)


def gw() -> Gateway:
    return current_app.config["BRAINTREE_GATEWAY"]


def fingerprint_of(client_token: str) -> str | None:
    """The authorization fingerprint inside a client token, if it is one we issued."""
    try:
        token = json.loads(base64.b64decode(client_token, validate=True))
        fingerprint = str(token["authorizationFingerprint"])
    except (ValueError, KeyError, TypeError):
        return None
    return fingerprint if fingerprint in gw().fingerprints else None


@dropin.get("/dropin")
def page():
    """The card form, framed only by the platform origin named in the URL."""
    origin = request.args.get("origin", "")
    parts = urlsplit(origin)
    fingerprint = fingerprint_of(request.args.get("authorization", ""))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or not fingerprint:
        return Response("invalid Drop-in authorization or origin", 400)
    response = Response(PAGE.format(origin=escape(origin), fingerprint=escape(fingerprint)))
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'; frame-ancestors {origin}")
    return response


@dropin.get("/dropin/frame.js")
def frame_js():
    """The stand-in's own script (served from the fake's origin)."""
    return Response(FRAME_JS, content_type="text/javascript")


@dropin.post("/dropin/tokenize")
def tokenize():
    """Card details → a single-use nonce (what Braintree's client API does for the Drop-in)."""
    data = request.get_json(silent=True) or {}
    if str(data.get("fingerprint", "")) not in gw().fingerprints:
        return jsonify(error="Authorization is not valid."), 401
    number = "".join(ch for ch in str(data.get("number", "")) if ch.isdigit())
    if number not in CARDS:
        return jsonify(error="Card number is not a test card this sandbox accepts."), 422
    if not str(data.get("cvv", "")).isdigit() or "/" not in str(data.get("expiry", "")):
        return jsonify(error="Check the expiry date (MM/YY) and CVV."), 422
    return jsonify(nonce=gw().issue_nonce(CARDS[number]),
                   details={"lastFour": number[-4:], "cardType": "Visa"})
