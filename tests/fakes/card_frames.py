"""Card field frames shared by the fake Stripe (split Card Element) and the fake Braintree
(Hosted Fields): one PSP-origin iframe per field (number, expiry, CVC) inside the merchant's
form. The number frame collects its siblings' values (postMessage, this origin only), sends the
three to its own origin's tokenize endpoint and tells the merchant's page only the result (a
payment method id or a nonce) or an error — never the card. Each fake's stand-in script (its
stripe.js / hosted-fields.js) mounts these frames and speaks the PSP's own JavaScript API.
"""
from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from flask import Response, request

FIELDS = {"number": ("cc-number", "1234 1234 1234 1234"), "expiry": ("cc-exp", "MM / YY"),
          "cvc": ("cc-csc", "CVC")}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{label}</title>
<style>body{{margin:0}}input{{box-sizing:border-box;width:100%;font:16px sans-serif;
padding:.45rem;border:0;outline:0;background:transparent}}</style></head>
<body><input id="field" type="text" autocomplete="{autocomplete}" inputmode="numeric"
placeholder="{placeholder}" aria-label="{label}" spellcheck="false" data-field="{field}"
data-channel="{channel}" data-key="{key}" data-parent="{parent}" data-tokenize="{tokenize}">
<script src="{script}"></script></body></html>"""

FRAME_JS = r"""(function () {
  "use strict";
  var input = document.getElementById("field");
  if (!input || window.parent === window) return;
  var d = input.dataset, own = window.location.origin, collected = null, timer = null;
  function tell(message) {
    message.source = "fake-psp-field"; message.channel = d.channel; message.field = d.field;
    window.parent.postMessage(message, d.parent);
  }
  function digits(v) { return (v || "").replace(/\D/g, ""); }
  function luhn(n) {
    var t = 0;
    for (var i = 0; i < n.length; i++) {
      var x = Number(n.charAt(n.length - 1 - i));
      if (i % 2 === 1) x = x > 4 ? x * 2 - 9 : x * 2;
      t += x;
    }
    return t % 10 === 0;
  }
  var checks = {
    number: function (v) { var n = digits(v);
      return n.length >= 12 && n.length <= 19 && luhn(n) ? null : "Your card number is incorrect."; },
    expiry: function (v) { var m = /^\s*(\d{1,2})\s*\/?\s*(\d{2})\s*$/.exec(v || "");
      return m && +m[1] >= 1 && +m[1] <= 12 ? null
        : "Your card's expiry date is incomplete or invalid."; },
    cvc: function (v) { return /^\s*\d{3,4}\s*$/.test(v || "") ? null
        : "Your card's security code is incomplete."; }
  };
  function report(withError) {
    var problem = checks[d.field](input.value);
    tell({type: "change", empty: input.value === "", complete: problem === null,
          error: withError && input.value !== "" ? problem : null});
  }
  function fail(field, message) { tell({type: "error", error: {field: field, message: message}}); }
  function send() {
    var values = {number: input.value, expiry: collected.expiry, cvc: collected.cvc};
    var names = ["number", "expiry", "cvc"];
    for (var i = 0; i < names.length; i++) {
      var problem = checks[names[i]](values[names[i]]);
      if (problem) return fail(names[i], problem);
    }
    fetch(d.tokenize, {method: "POST", credentials: "omit",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({key: d.key, number: digits(values.number), expiry: values.expiry,
                            cvc: values.cvc.trim()})})
      .then(function (r) { return r.json().then(function (b) { return {ok: r.ok, body: b}; }); })
      .then(function (a) {
        if (a.ok) tell({type: "result", result: a.body});
        else fail((a.body.error || {}).param || "number",
                  (a.body.error || {}).message || "Your card could not be read.");
      }, function () { fail("form", "The payment provider could not be reached."); });
  }
  window.addEventListener("message", function (event) {
    var data = event.data || {};
    if (data.channel !== d.channel) return;
    if (event.origin === own && data.type === "collect" && d.field !== "number") {
      event.source.postMessage({type: "value", channel: d.channel, field: d.field,
                                value: input.value}, own);
    } else if (event.origin === own && data.type === "value" && collected) {
      collected[data.field] = data.value;
      if ("expiry" in collected && "cvc" in collected) {
        clearTimeout(timer); send(); collected = null;
      }
    } else if (event.origin === d.parent && event.source === window.parent &&
               data.type === "tokenize" && d.field === "number") {
      collected = {};
      for (var i = 0; i < window.parent.frames.length; i++) {
        window.parent.frames[i].postMessage({type: "collect", channel: d.channel}, own);
      }
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (collected) { collected = null; fail("form", "The card form is incomplete."); }
      }, 3000);
    } else if (event.origin === d.parent && event.source === window.parent &&
               data.type === "focus") {
      input.focus();
    }
  });
  input.addEventListener("input", function () { report(false); });
  input.addEventListener("blur", function () { report(true); });
  tell({type: "ready"});
})();"""


def frame_response(field: str, script_path: str, tokenize_path: str) -> Response:
    """One field's frame page, framed only by the merchant origin named in `origin`."""
    parent = request.args.get("origin", "")
    parts = urlsplit(parent)
    if field not in FIELDS or parts.scheme not in ("http", "https") or not parts.netloc \
            or parts.path:
        return Response("unknown field or merchant origin", 400)
    autocomplete, placeholder = FIELDS[field]
    html = PAGE.format(label=escape(request.args.get("label", field)[:60]),
                       autocomplete=autocomplete, placeholder=placeholder, field=field,
                       channel=escape(request.args.get("channel", "")[:64]),
                       key=escape(request.args.get("key", "")[:400]), parent=escape(parent),
                       tokenize=escape(tokenize_path), script=escape(script_path))
    response = Response(html)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; "
        f"frame-ancestors {parent}")
    response.headers["Cache-Control"] = "no-store"
    return response


def frame_script() -> Response:
    """The frames' own script."""
    return Response(FRAME_JS, content_type="text/javascript")
