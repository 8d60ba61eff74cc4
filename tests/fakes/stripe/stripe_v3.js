// A stand-in for https://js.stripe.com/v3/ served by the fake Stripe, offline. It implements
// only what Holdfast's page uses: Stripe(publishableKey), stripe.elements({clientSecret}),
// elements.create("payment"), element.mount(selector) and
// stripe.confirmPayment({elements, confirmParams: {return_url}}); and the split Card Element
// for a merchant's own card form: elements.create("cardNumber" | "cardExpiry" | "cardCvc"),
// element.mount / on("change") / focus, and stripe.createPaymentMethod({type: "card", card})
// (the merchant's server then confirms the PaymentIntent). The card form lives in an
// iframe on this script's own origin; the merchant's page never sees the card. Messages are
// accepted only from that frame's window and origin.
(function () {
  "use strict";
  var ORIGIN = new URL(document.currentScript.src).origin;

  function PaymentElement(elements) {
    this._elements = elements;
    this._frame = null;
    this._waiting = null;  // the confirmPayment promise's resolve, while one is running
  }

  PaymentElement.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    if (!host) throw new Error("mount: no element matches " + target);
    if (this._frame) throw new Error("this Payment Element is already mounted");
    var self = this;
    var frame = document.createElement("iframe");
    frame.title = "Secure payment input frame";
    frame.name = "__privateStripeFrame" + Math.floor(Math.random() * 1e6);
    frame.setAttribute("allow", "payment");
    frame.style.width = "100%";
    frame.style.height = "220px";
    frame.style.border = "0";
    // In the fragment: the browser never sends it to a server.
    frame.src = ORIGIN + "/elements/payment#" + new URLSearchParams({
      key: this._elements._stripe._key,
      client_secret: this._elements._clientSecret,
      origin: window.location.origin
    }).toString();
    window.addEventListener("message", function (event) {
      if (event.origin !== ORIGIN || event.source !== frame.contentWindow) return;
      var data = event.data || {};
      if (data.type === "redirect" && typeof data.url === "string") {
        window.location.assign(data.url);  // like Stripe: the promise never resolves
      } else if (data.type === "result" && self._waiting) {
        var resolve = self._waiting;
        self._waiting = null;
        resolve({error: data.error || {type: "api_error", message: "Something went wrong."}});
      }
    });
    host.appendChild(frame);
    this._frame = frame;
  };

  // The split Card Element: one frame per field on this script's origin (tests/fakes/
  // card_frames.py); the number frame collects its siblings and makes the PaymentMethod.
  var CARD_FIELDS = {cardNumber: "number", cardExpiry: "expiry", cardCvc: "cvc"};
  var CARD_LABELS = {number: "Card number", expiry: "Expiry date", cvc: "Security code (CVC)"};

  function CardFieldElement(elements, type, options) {
    this._elements = elements;
    this._field = CARD_FIELDS[type];
    this._type = type;
    this._label = (options && options.ariaLabel) || CARD_LABELS[this._field];
    this._frame = null;
    this._handlers = {};
  }

  CardFieldElement.prototype.on = function (name, handler) {
    (this._handlers[name] = this._handlers[name] || []).push(handler);
    return this;
  };

  CardFieldElement.prototype._emit = function (name, event) {
    (this._handlers[name] || []).forEach(function (handler) { handler(event); });
  };

  CardFieldElement.prototype.focus = function () {
    if (this._frame) this._frame.contentWindow.postMessage(
      {type: "focus", channel: this._elements._channel}, ORIGIN);
  };

  CardFieldElement.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    if (!host) throw new Error("mount: no element matches " + target);
    if (this._frame) throw new Error("this element is already mounted");
    var frame = document.createElement("iframe");
    frame.title = "Secure " + this._label.toLowerCase() + " input frame";
    frame.name = "__privateStripeFrame" + Math.floor(Math.random() * 1e6);
    frame.style.width = "100%";
    frame.style.height = "2.4rem";
    frame.style.border = "0";
    frame.src = ORIGIN + "/elements/card/" + this._field + "?" + new URLSearchParams({
      key: this._elements._stripe._key, channel: this._elements._channel,
      origin: window.location.origin, label: this._label}).toString();
    host.appendChild(frame);
    this._frame = frame;
    this._elements._fields[this._field] = this;
  };

  function Elements(stripe, options) {
    this._stripe = stripe;
    this._clientSecret = options && options.clientSecret;
    this._element = null;
    this._fields = {};
    this._channel = "c" + Math.floor(Math.random() * 1e9);
    var self = this;
    window.addEventListener("message", function (event) {
      var data = event.data || {};
      if (event.origin !== ORIGIN || data.source !== "fake-psp-field" ||
          data.channel !== self._channel) return;
      var element = self._fields[data.field];
      if (!element || event.source !== element._frame.contentWindow) return;
      if (data.type === "change") {
        element._emit("change", {elementType: element._type, empty: data.empty,
                                 complete: data.complete,
                                 error: data.error ? {message: data.error} : undefined});
      } else if ((data.type === "result" || data.type === "error") && self._waiting) {
        var resolve = self._waiting;
        self._waiting = null;
        if (data.type === "result") {
          resolve({paymentMethod: data.result});
        } else {
          var which = {number: "cardNumber", expiry: "cardExpiry", cvc: "cardCvc"};
          resolve({error: {type: "validation_error", message: data.error.message,
                           param: which[data.error.field] || data.error.field}});
        }
      }
    });
  }

  Elements.prototype.create = function (type, options) {
    if (CARD_FIELDS[type]) return new CardFieldElement(this, type, options);
    if (type !== "payment") throw new Error("this stand-in offers the Payment Element and " +
                                            "the split Card Element only");
    if (typeof this._clientSecret !== "string") {
      throw new Error("the Payment Element needs the PaymentIntent's clientSecret");
    }
    this._element = this._element || new PaymentElement(this);
    return this._element;
  };

  function StripeClient(key) {
    if (typeof key !== "string" || key.indexOf("pk_") !== 0) {
      throw new Error("Stripe() needs a publishable key (pk_…)");
    }
    this._key = key;
  }

  StripeClient.prototype.elements = function (options) {
    return new Elements(this, options);
  };

  StripeClient.prototype.confirmPayment = function (options) {
    var element = options && options.elements && options.elements._element;
    var returnUrl = options && options.confirmParams && options.confirmParams.return_url;
    if (!element || !element._frame) {
      return Promise.resolve({error: {type: "validation_error",
                                      message: "Mount the Payment Element first."}});
    }
    if (typeof returnUrl !== "string") {
      return Promise.resolve({error: {type: "validation_error",
                                      message: "confirmParams.return_url is required."}});
    }
    if (element._waiting) {
      return Promise.resolve({error: {type: "validation_error",
                                      message: "A confirmation is already in progress."}});
    }
    return new Promise(function (resolve) {
      element._waiting = resolve;
      element._frame.contentWindow.postMessage({type: "confirm", return_url: returnUrl}, ORIGIN);
    });
  };

  StripeClient.prototype.createPaymentMethod = function (options) {
    var card = options && options.card;
    if (!options || options.type !== "card" || !(card instanceof CardFieldElement) ||
        card._field !== "number" || !card._frame) {
      return Promise.resolve({error: {type: "validation_error",
                                      message: "Pass the mounted cardNumber element as card."}});
    }
    var elements = card._elements;
    if (elements._waiting) {
      return Promise.resolve({error: {type: "validation_error",
                                      message: "A request is already in progress."}});
    }
    return new Promise(function (resolve) {
      elements._waiting = resolve;
      card._frame.contentWindow.postMessage({type: "tokenize", channel: elements._channel},
                                            ORIGIN);
    });
  };

  window.Stripe = function (key) { return new StripeClient(key); };
})();
