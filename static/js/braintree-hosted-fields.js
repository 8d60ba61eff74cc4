// Holdfast's card fields page glue for Braintree Hosted Fields (SAQ A-EP). braintree-web's
// script (Braintree's origin, pinned by SRI) mounts card number, expiry and CVV, each a
// Braintree iframe, inside our form; this script places them, shows our own words next to a
// field Braintree reports invalid, and on submit asks for a single-use payment_method_nonce,
// puts it in the form and submits the form to our server, which makes the sale. It never sees
// card data: the frames are another origin.
(function () {
  "use strict";
  var KEYS = {number: "number", expirationDate: "expiry", cvv: "cvc"};
  var WORDS = {number: "Your card number is incorrect.",
               expiry: "Your card's expiry date is incomplete or invalid.",
               cvc: "Your card's security code is incomplete."};
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("card-fields-form");
    if (!form || form.dataset.library !== "braintree") return;
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

    function unavailable() {
      show("form", "The card form could not be loaded. Nothing has been charged.");
      button.disabled = true;
    }

    if (!window.braintree || !window.braintree.client || !window.braintree.hostedFields) {
      return unavailable();
    }
    button.disabled = true;  // until the fields are there
    window.braintree.client.create({authorization: form.dataset.authorization},
                                   function (error, client) {
      if (error) return unavailable();
      var fields = {};
      Object.keys(KEYS).forEach(function (key) {
        var box = document.getElementById("field-" + KEYS[key]);
        fields[key] = {container: box, label: box.dataset.title};
      });
      window.braintree.hostedFields.create({client: client, fields: fields},
                                           function (failed, hosted) {
        if (failed) return unavailable();
        button.disabled = false;
        hosted.on("validityChange", function (event) {
          var state = event.fields[event.emittedBy];
          var name = KEYS[event.emittedBy];
          show(name, state.isPotentiallyValid ? "" : WORDS[name]);
        });
        Object.keys(KEYS).forEach(function (key) {
          document.getElementById("label-" + KEYS[key]).addEventListener("click", function () {
            hosted.focus(key);
          });
        });
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          if (button.disabled) return;  // one payment attempt at a time
          button.disabled = true;
          show("form", "");
          hosted.tokenize(function (problem, payload) {
            if (problem || !payload || !payload.nonce) {
              var invalid = ((problem && problem.details) || {}).invalidFieldKeys || [];
              if (invalid.length) {
                invalid.forEach(function (key) { show(KEYS[key], WORDS[KEYS[key]]); });
              } else {
                show("form", (problem && problem.message) || "Your card could not be used.");
              }
              button.disabled = false;
              return;
            }
            token.value = payload.nonce;
            form.submit();  // to our server: the nonce only, with our CSRF token
          });
        });
      });
    });
  });
})();
