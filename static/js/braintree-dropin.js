// Holdfast's Braintree Drop-in page glue. No inline handlers (the CSP forbids them).
// The Drop-in frame (Braintree's origin) tokenizes the card and hands us only a one-time
// payment_method_nonce. We accept it only from that frame's exact origin and window, put it in
// our own form (with its CSRF token) and submit it; the server authorizes with it. Card data
// never reaches this page.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var frame = document.getElementById("dropin-frame");
    var form = document.getElementById("nonce-form");
    if (!frame || !form) return;
    var origin = frame.dataset.dropinOrigin;
    var sent = false;
    window.addEventListener("message", function (event) {
      if (event.origin !== origin || event.source !== frame.contentWindow) return;
      var data = event.data;
      if (!data || data.source !== "braintree-dropin-standin" || typeof data.nonce !== "string") {
        return;
      }
      if (sent) return;  // one nonce, one submit: a double click must not post twice
      sent = true;
      form.elements.payment_method_nonce.value = data.nonce;
      form.submit();
    });
  });
})();
