// Holdfast's card fields page glue for Stripe (SAQ A-EP). stripe.js (Stripe's origin) mounts
// the split Card Element — card number, expiry and CVC, each a Stripe iframe — inside our form;
// this script only places them, shows the errors they report next to each one, and on submit
// asks stripe.js for a PaymentMethod (pm_…), puts its id in the form and submits the form to
// our server, which confirms the PaymentIntent. It never sees card data: the frames are
// another origin.
(function () {
  "use strict";
  var FIELDS = {cardNumber: "number", cardExpiry: "expiry", cardCvc: "cvc"};
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("card-fields-form");
    if (!form || form.dataset.library !== "stripe") return;
    var formError = document.getElementById("error-form");
    var button = form.querySelector("button[type=submit]");
    var token = form.querySelector("input[name=token]");

    function show(field, message) {
      var node = document.getElementById("error-" + field) || formError;
      node.textContent = message || "";
      node.hidden = !message;
      var box = document.getElementById("field-" + field);
      if (box) box.classList.toggle("invalid", !!message);
    }

    if (typeof window.Stripe !== "function") {
      show("form", "The card form could not be loaded. Nothing has been charged.");
      button.disabled = true;
      return;
    }
    var stripe = window.Stripe(form.dataset.publishableKey);
    var elements = stripe.elements();
    var mounted = {};
    Object.keys(FIELDS).forEach(function (type) {
      var name = FIELDS[type];
      var box = document.getElementById("field-" + name);
      var element = elements.create(type, {ariaLabel: box.dataset.title});
      element.mount(box);
      element.on("change", function (event) {
        show(name, event.error ? event.error.message : "");
      });
      document.getElementById("label-" + name).addEventListener("click", function () {
        element.focus();
      });
      mounted[name] = element;
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) return;  // one payment attempt at a time
      button.disabled = true;
      show("form", "");
      stripe.createPaymentMethod({type: "card", card: mounted.number})
        .then(function (result) {
          if (result.paymentMethod) {
            token.value = result.paymentMethod.id;
            form.submit();  // to our server: the PaymentMethod id only, with our CSRF token
            return;
          }
          var error = result.error || {};
          show(FIELDS[error.param] || "form", error.message || "Your card could not be used.");
          button.disabled = false;
        });
    });
  });
})();
