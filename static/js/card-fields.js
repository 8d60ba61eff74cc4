// Holdfast's card fields page glue. The PSP's script (fields.v1.js, pinned by SRI) mounts the
// card number, expiry and CVC as iframes from the PSP's origin inside our form; this script
// only places them, shows the errors the PSP's fields report next to each one, and on submit
// asks the PSP's script for a single-use token, puts it in the form and submits the form to
// our server. It never sees card data: the frames are another origin.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("card-fields-form");
    if (!form) return;
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

    if (typeof window.HoldfastFields !== "function") {
      show("form", "The card form could not be loaded. Nothing has been charged.");
      button.disabled = true;
      return;
    }
    var fields = window.HoldfastFields(form.dataset.publishableKey);
    ["number", "expiry", "cvc"].forEach(function (name) {
      var box = document.getElementById("field-" + name);
      fields.mount(name, box, {title: box.dataset.title});
      document.getElementById("label-" + name).addEventListener("click", function () {
        fields.focus(name);
      });
    });
    fields.on("change", function (event) { show(event.field, event.error); });
    fields.on("focus", function (event) {
      var box = document.getElementById("field-" + event.field);
      if (box) box.classList.add("focused");
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) return;  // one payment attempt at a time
      button.disabled = true;
      show("form", "");
      fields.createToken().then(function (result) {
        token.value = result.token;
        form.submit();  // to our server: the token only, with our CSRF token
      }, function (error) {
        show(error.field, error.message);
        button.disabled = false;
      });
    });
  });
})();
