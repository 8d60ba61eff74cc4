// Holdfast's Stripe Payment Element page glue. No inline handlers (the CSP forbids them).
// stripe.js (Stripe's origin) mounts Stripe's card form in its own iframe and confirms the
// PaymentIntent with Stripe directly; on success Stripe sends the browser to our return page,
// which asks our server for the outcome. This script never reads card data and posts nothing
// to Holdfast: it only shows the error confirmPayment answers.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("payment-form");
    var message = document.getElementById("payment-message");
    if (!form || !message) return;
    if (typeof window.Stripe !== "function") {
      message.textContent = "The card form could not be loaded. Nothing has been charged.";
      message.hidden = false;
      return;
    }
    var stripe = window.Stripe(form.dataset.publishableKey);
    var elements = stripe.elements({clientSecret: form.dataset.clientSecret});
    elements.create("payment").mount("#payment-element");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) return;  // one confirmation at a time
      button.disabled = true;
      message.hidden = true;
      stripe.confirmPayment({elements: elements,
                             confirmParams: {return_url: form.dataset.returnUrl}})
        .then(function (result) {
          // Reached only when the payment did not go through: Stripe redirects otherwise.
          message.textContent = (result && result.error && result.error.message) ||
            "Your card could not be charged. Please try another card.";
          message.hidden = false;
          button.disabled = false;
        });
    });
  });
})();
