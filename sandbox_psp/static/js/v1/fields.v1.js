/* Holdfast sandbox card fields, v1. Versioned: this file never changes; a new version gets a
 * new name, so a platform can pin its integrity (SRI) hash.
 *
 *   var fields = HoldfastFields("pk_test_…");
 *   fields.mount("number", element, {title: "Card number"});   // also "expiry", "cvc"
 *   fields.on("change", function (event) { … event.field, event.complete, event.error … });
 *   fields.createToken().then(function (result) { … result.token, result.card … },
 *                             function (error) { … error.field, error.message … });
 *
 * Each field is an iframe from the PSP's origin; this script, on the platform's page, never
 * sees a card number, expiry or CVC: only the single-use token and display data. Messages are
 * accepted only from the PSP's origin and from the frames this script made.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var PSP = new URL(script.src).origin;

  function channelId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function Fields(publishableKey) {
    var self = this;
    this.key = publishableKey;
    this.channel = channelId();
    this.frames = {};
    this.handlers = {change: [], ready: [], focus: []};
    this.pending = null;
    window.addEventListener("message", function (event) { self._receive(event); });
  }

  Fields.prototype.mount = function (field, container, options) {
    var query = new URLSearchParams({key: this.key, channel: this.channel,
                                     label: (options && options.title) || field});
    var frame = document.createElement("iframe");
    frame.src = PSP + "/fields/v1/" + encodeURIComponent(field) + "?" + query.toString();
    frame.title = (options && options.title) || field;
    frame.className = "holdfast-field";
    frame.setAttribute("scrolling", "no");
    container.appendChild(frame);
    this.frames[field] = frame;
    return frame;
  };

  Fields.prototype.on = function (name, handler) {
    (this.handlers[name] = this.handlers[name] || []).push(handler);
  };

  Fields.prototype.focus = function (field) {
    var frame = this.frames[field];
    if (frame) frame.contentWindow.postMessage({type: "focus", channel: this.channel}, PSP);
  };

  Fields.prototype.createToken = function () {
    var self = this;
    return new Promise(function (resolve, reject) {
      if (self.pending) return reject({field: "form", message: "Already in progress."});
      self.pending = {resolve: resolve, reject: reject};
      self.frames.number.contentWindow.postMessage({type: "tokenize", channel: self.channel}, PSP);
    });
  };

  Fields.prototype._emit = function (name, event) {
    (this.handlers[name] || []).forEach(function (handler) { handler(event); });
  };

  Fields.prototype._receive = function (event) {
    if (event.origin !== PSP) return;
    var data = event.data || {};
    if (data.source !== "holdfast-fields" || data.channel !== this.channel) return;
    var frame = this.frames[data.field];
    if (!frame || event.source !== frame.contentWindow) return;
    if (data.type === "change") {
      this._emit("change", {field: data.field, empty: !!data.empty, complete: !!data.complete,
                            error: data.error || null});
    } else if (data.type === "ready" || data.type === "focus") {
      this._emit(data.type, {field: data.field});
    } else if (this.pending && (data.type === "token" || data.type === "error")) {
      var pending = this.pending;
      this.pending = null;
      if (data.type === "token") {
        pending.resolve({token: String(data.token), card: data.card || {}});
      } else {
        pending.reject({field: (data.error && data.error.field) || "form",
                        message: (data.error && data.error.message) || "Your card could not be read."});
      }
    }
  };

  window.HoldfastFields = function (publishableKey) { return new Fields(publishableKey); };
  window.HoldfastFields.version = "1";
})();
