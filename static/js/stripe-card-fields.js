// Holdfast's card fields page glue for Stripe (SAQ A-EP). stripe.js (Stripe's origin) mounts
// the split Card Element — card number, expiry and CVC, each a Stripe iframe — inside our form;
// this script places them, shows the errors they report next to each one, and on submit asks
// stripe.js for a PaymentMethod (pm_…) whose id card-form.js posts to our server, which
// confirms the PaymentIntent.
(function () {
  "use strict";
  var FIELDS = {cardNumber: "number", cardExpiry: "expiry", cardCvc: "cvc"};
  document.addEventListener("DOMContentLoaded", function () {
    var card = window.HoldfastCardForm && window.HoldfastCardForm("stripe");
    if (!card) return;
    if (typeof window.Stripe !== "function") return card.unavailable();
    var stripe = window.Stripe(card.form.dataset.publishableKey);
    var elements = stripe.elements();
    var mounted = {};
    Object.keys(FIELDS).forEach(function (type) {
      var name = FIELDS[type];
      var box = card.box(name);
      var element = elements.create(type, {ariaLabel: box.dataset.title});
      element.mount(box);
      element.on("change", function (event) {
        card.show(name, event.error ? event.error.message : "");
      });
      card.onLabelClick(name, function () { element.focus(); });
      mounted[name] = element;
    });
    card.submitWith(function (done, fail) {
      stripe.createPaymentMethod({type: "card", card: mounted.number}).then(function (result) {
        if (result.paymentMethod) return done(result.paymentMethod.id);
        var error = result.error || {};
        card.show(FIELDS[error.param] || "form", error.message || "Your card could not be used.");
        fail();
      });
    });
  });
})();
