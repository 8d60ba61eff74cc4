// Holdfast's card fields page glue for the sandbox PSP. The PSP's script (fields.v1.js, pinned
// by SRI) mounts the card number, expiry and CVC as iframes from the PSP's origin inside our
// form; this script places them, shows the errors they report next to each one, and on submit
// asks the PSP's script for a single-use token that card-form.js posts to our server.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var card = window.HoldfastCardForm && window.HoldfastCardForm("holdfast");
    if (!card) return;
    if (typeof window.HoldfastFields !== "function") return card.unavailable();
    var fields = window.HoldfastFields(card.form.dataset.publishableKey);
    ["number", "expiry", "cvc"].forEach(function (name) {
      var box = card.box(name);
      fields.mount(name, box, {title: box.dataset.title});
      card.onLabelClick(name, function () { fields.focus(name); });
    });
    fields.on("change", function (event) { card.show(event.field, event.error); });
    fields.on("focus", function (event) {
      var box = card.box(event.field);
      if (box) box.classList.add("focused");
    });
    card.submitWith(function (done, fail) {
      fields.createToken().then(function (result) { done(result.token); }, function (error) {
        card.show(error.field, error.message);
        fail();
      });
    });
  });
})();
