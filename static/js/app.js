// Holdfast's own script. No inline handlers anywhere (the CSP forbids them).
(function () {
  "use strict";

  // Embedded checkout: the PSP's iframe tells us the result by postMessage. We accept it only
  // from the PSP's exact origin and for this session, and we never trust it for the outcome:
  // on success we go to the status page, which asks our server (fed by the signed webhook).
  function setupEmbeddedCheckout() {
    var frame = document.getElementById("psp-frame");
    if (!frame) return;
    var pspOrigin = frame.dataset.pspOrigin;
    var session = frame.dataset.session;
    var box = document.getElementById("payment-message");
    var messages = {};
    try {
      messages = JSON.parse(document.getElementById("decline-messages").textContent);
    } catch (e) { messages = {}; }

    window.addEventListener("message", function (event) {
      if (event.origin !== pspOrigin) return;
      var data = event.data;
      if (!data || data.source !== "holdfast-sandbox" || data.session !== session) return;
      if (data.status === "authorized" || data.status === "captured") {
        window.location.assign(frame.dataset.returnUrl);
      } else if (data.status === "declined" || data.status === "canceled") {
        var code = data.decline_code || data.code || "";
        box.textContent = messages[code] || messages[""] || "The payment did not go through.";
        box.hidden = false;
      }
    });
  }

  // A form marked data-swap-errors gets its partial back with a readable message when the
  // server refuses (400, 409): show it, where htmx would otherwise drop an error response.
  function swapRefusals(event) {
    var status = event.detail.xhr.status;
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if ((status === 400 || status === 409) && source && source.closest &&
        source.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  }

  document.addEventListener("DOMContentLoaded", setupEmbeddedCheckout);
  document.addEventListener("htmx:beforeSwap", swapRefusals);
})();
