"""A stand-in for Braintree's Hosted Fields (braintree-web's client + hosted-fields components),
served from the fake's own origin: the script mounts card number, expiry and CVV as iframes of
this origin inside the merchant's own form (tests/fakes/card_frames.py); tokenize() gives the
merchant's page a single-use payment_method_nonce, never the card.

The script is versioned by path and never changed in place, so the merchant pins its SRI hash;
the path says "standin" so a reviewed hash of the fake is never taken for Braintree's own file.
It implements only what Holdfast's page uses: braintree.client.create({authorization}, cb),
braintree.hostedFields.create({client, fields: {number, expirationDate, cvv}}, cb),
instance.on("validityChange", fn), instance.focus(key) and instance.tokenize(cb).
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from tests.fakes.braintree.state import CARDS, Gateway
from tests.fakes.card_frames import frame_response, frame_script

hosted_fields = Blueprint("braintree_hosted_fields", __name__)
SCRIPT_PATH = "/web/3.97.2-standin/js/hosted-fields.min.js"

SCRIPT = r"""(function () {
  "use strict";
  var ORIGIN = new URL(document.currentScript.src).origin;
  var KEYS = {number: "number", expiry: "expirationDate", cvc: "cvv"};
  var FRAMES = {number: "number", expirationDate: "expiry", cvv: "cvc"};

  function Client(fingerprint) { this._fingerprint = fingerprint; }

  function HostedFields(client, fields) {
    var self = this;
    this._client = client;
    this._frames = {};
    this._state = {};
    this._handlers = {};
    this._waiting = null;
    this._channel = "h" + Math.floor(Math.random() * 1e9);
    window.addEventListener("message", function (event) {
      var data = event.data || {};
      if (event.origin !== ORIGIN || data.source !== "fake-psp-field" ||
          data.channel !== self._channel) return;
      var frame = self._frames[data.field];
      if (!frame || event.source !== frame.contentWindow) return;
      var key = KEYS[data.field];
      if (data.type === "change") {
        self._state[key] = {isEmpty: data.empty, isValid: data.complete,
                            isPotentiallyValid: !data.error};
        (self._handlers.validityChange || []).forEach(function (handler) {
          handler({emittedBy: key, fields: self._state});
        });
      } else if (data.type === "result" && self._waiting) {
        var done = self._waiting; self._waiting = null;
        done(null, data.result);
      } else if (data.type === "error" && self._waiting) {
        var failed = self._waiting; self._waiting = null;
        var invalid = KEYS[data.error.field];
        failed({code: invalid ? "HOSTED_FIELDS_FIELDS_INVALID" : "HOSTED_FIELDS_FAILED_TOKENIZATION",
                message: data.error.message,
                details: {invalidFieldKeys: invalid ? [invalid] : []}});
      }
    });
    Object.keys(fields).forEach(function (key) {
      var spec = fields[key], field = FRAMES[key];
      var host = typeof spec.container === "string" ? document.querySelector(spec.container)
                                                    : spec.container;
      if (!field || !host) throw new Error("hostedFields: no container for " + key);
      var frame = document.createElement("iframe");
      frame.title = "Secure " + (spec.label || key) + " input frame";
      frame.name = "braintree-hosted-field-" + key;
      frame.style.width = "100%";
      frame.style.height = "2.4rem";
      frame.style.border = "0";
      frame.src = ORIGIN + "/hosted-fields/frame/" + field + "?" + new URLSearchParams({
        key: client._fingerprint, channel: self._channel, origin: window.location.origin,
        label: spec.label || key}).toString();
      host.appendChild(frame);
      self._frames[field] = frame;
      self._state[key] = {isEmpty: true, isValid: false, isPotentiallyValid: true};
    });
  }

  HostedFields.prototype.on = function (name, handler) {
    (this._handlers[name] = this._handlers[name] || []).push(handler);
  };

  HostedFields.prototype.focus = function (key) {
    var frame = this._frames[FRAMES[key]];
    if (frame) frame.contentWindow.postMessage({type: "focus", channel: this._channel}, ORIGIN);
  };

  HostedFields.prototype.tokenize = function (callback) {
    if (this._waiting) return callback({code: "HOSTED_FIELDS_TOKENIZATION_IN_PROGRESS",
                                        message: "Tokenization is already in progress."});
    this._waiting = callback;
    this._frames.number.contentWindow.postMessage({type: "tokenize", channel: this._channel},
                                                  ORIGIN);
  };

  window.braintree = {
    client: {create: function (options, callback) {
      var token;
      try { token = JSON.parse(atob(options.authorization)); } catch (e) { token = null; }
      if (!token || !token.authorizationFingerprint) {
        return callback({code: "CLIENT_INVALID_AUTHORIZATION",
                         message: "Authorization is invalid."});
      }
      callback(null, new Client(token.authorizationFingerprint));
    }},
    hostedFields: {create: function (options, callback) {
      if (!(options && options.client instanceof Client)) {
        return callback({code: "INSTANTIATION_OPTION_REQUIRED", message: "client is required."});
      }
      callback(null, new HostedFields(options.client, options.fields || {}));
    }}
  };
})();"""


def gw() -> Gateway:
    return current_app.config["BRAINTREE_GATEWAY"]


@hosted_fields.get(SCRIPT_PATH)
def script():
    """The versioned stand-in library; cross-origin readable, so an SRI check can read it."""
    response = Response(SCRIPT, content_type="text/javascript")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@hosted_fields.get("/hosted-fields/frame/<field>")
def frame(field):
    """One field's frame, framed only by the merchant origin it is given."""
    return frame_response(field, "/hosted-fields/frame.js", "/hosted-fields/tokenize")


@hosted_fields.get("/hosted-fields/frame.js")
def frame_js():
    return frame_script()


@hosted_fields.post("/hosted-fields/tokenize")
def tokenize():
    """Card details → a single-use nonce, with the client token's authorization fingerprint
    (what Braintree's client API does for Hosted Fields)."""
    data = request.get_json(silent=True) or {}
    if str(data.get("key", "")) not in gw().fingerprints:
        return jsonify(error={"message": "Authorization is not valid."}), 401
    number = "".join(ch for ch in str(data.get("number", "")) if ch.isdigit())
    if number not in CARDS:
        return jsonify(error={"param": "number", "message": "Card number is not a test card "
                                                            "this sandbox accepts."}), 422
    return jsonify(nonce=gw().issue_nonce(CARDS[number]), type="CreditCard",
                   details={"lastFour": number[-4:], "cardType": "Visa"})
