// Holdfast's card form, shared by the three card-fields glue scripts (the sandbox's fields,
// Stripe's Card Element, Braintree's Hosted Fields): finds our form for one library, shows an
// error next to its field (or above the button), and submits the form once with the single-use
// token the PSP's script returns. It never sees card data: the fields are the PSP's iframes.
(function () {
  "use strict";
  var UNAVAILABLE = "The card form could not be loaded. Nothing has been charged.";

  window.HoldfastCardForm = function (library) {
    var form = document.getElementById("card-fields-form");
    if (!form || form.dataset.library !== library) return null;
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

    return {
      form: form,
      button: button,
      box: function (name) { return document.getElementById("field-" + name); },
      show: show,
      unavailable: function () { show("form", UNAVAILABLE); button.disabled = true; },
      onLabelClick: function (name, focus) {
        document.getElementById("label-" + name).addEventListener("click", focus);
      },
      // tokenize(done, fail): the PSP's script; done(token) posts our form with the token and
      // our CSRF token, fail() lets the buyer try again. One payment attempt at a time.
      submitWith: function (tokenize) {
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          if (button.disabled) return;
          button.disabled = true;
          show("form", "");
          tokenize(function (value) {
            token.value = value;
            form.submit();
          }, function () { button.disabled = false; });
        });
      }
    };
  };
})();
