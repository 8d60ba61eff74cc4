// Holdfast's card fields page glue for Braintree Hosted Fields (SAQ A-EP). braintree-web's
// script (Braintree's origin, pinned by SRI) mounts card number, expiry and CVV, each a
// Braintree iframe, inside our form; this script places them, shows our own words next to a
// field Braintree reports invalid, and on submit asks for a single-use payment_method_nonce
// that card-form.js posts to our server, which makes the sale.
(function () {
  "use strict";
  var KEYS = {number: "number", expirationDate: "expiry", cvv: "cvc"};
  var WORDS = {number: "Your card number is incorrect.",
               expiry: "Your card's expiry date is incomplete or invalid.",
               cvc: "Your card's security code is incomplete."};
  document.addEventListener("DOMContentLoaded", function () {
    var card = window.HoldfastCardForm && window.HoldfastCardForm("braintree");
    if (!card) return;
    var braintree = window.braintree;
    if (!braintree || !braintree.client || !braintree.hostedFields) return card.unavailable();
    card.button.disabled = true;  // until the fields are there
    braintree.client.create({authorization: card.form.dataset.authorization},
                            function (error, client) {
      if (error) return card.unavailable();
      var fields = {};
      Object.keys(KEYS).forEach(function (key) {
        var box = card.box(KEYS[key]);
        fields[key] = {container: box, label: box.dataset.title};
      });
      braintree.hostedFields.create({client: client, fields: fields}, function (failed, hosted) {
        if (failed) return card.unavailable();
        card.button.disabled = false;
        hosted.on("validityChange", function (event) {
          var name = KEYS[event.emittedBy];
          card.show(name, event.fields[event.emittedBy].isPotentiallyValid ? "" : WORDS[name]);
        });
        Object.keys(KEYS).forEach(function (key) {
          card.onLabelClick(KEYS[key], function () { hosted.focus(key); });
        });
        card.submitWith(function (done, fail) {
          hosted.tokenize(function (problem, payload) {
            if (!problem && payload && payload.nonce) return done(payload.nonce);
            var invalid = ((problem && problem.details) || {}).invalidFieldKeys || [];
            if (invalid.length) {
              invalid.forEach(function (key) { card.show(KEYS[key], WORDS[KEYS[key]]); });
            } else {
              card.show("form", (problem && problem.message) || "Your card could not be used.");
            }
            fail();
          });
        });
      });
    });
  });
})();
