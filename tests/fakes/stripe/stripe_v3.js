// A stand-in for https://js.stripe.com/v3/ served by the fake Stripe, offline. It implements
// only what Holdfast's page uses: Stripe(publishableKey), stripe.elements({clientSecret}),
// elements.create("payment"), element.mount(selector) and
// stripe.confirmPayment({elements, confirmParams: {return_url}}). The card form lives in an
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

  function Elements(stripe, options) {
    if (!options || typeof options.clientSecret !== "string") {
      throw new Error("elements() needs the PaymentIntent's clientSecret");
    }
    this._stripe = stripe;
    this._clientSecret = options.clientSecret;
    this._element = null;
  }

  Elements.prototype.create = function (type) {
    if (type !== "payment") throw new Error("this stand-in offers only the Payment Element");
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

  window.Stripe = function (key) { return new StripeClient(key); };
})();
