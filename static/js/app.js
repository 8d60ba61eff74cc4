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

  // A form marked data-confirm does something that cannot be undone (confirm receipt, ask
  // support to decide, release money): ask first. Listening in the capture phase on the
  // document runs before htmx's own submit handler, so a "no" stops htmx forms too.
  function confirmIrreversible(event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  // The payout weekday only means something for a weekly schedule: show it only then (the
  // server renders it hidden for other schedules; delegation survives htmx swaps).
  function weekdayFollowsSchedule(event) {
    var schedule = event.target;
    if (!schedule.matches || !schedule.matches("[data-payout-schedule]")) return;
    var weekday = schedule.form && schedule.form.querySelector("[data-payout-weekday]");
    if (weekday) weekday.hidden = schedule.value !== "weekly";
  }

  // Line numbers beside a code editor (the routing file), since its errors cite line:column.
  function numberLines() {
    document.querySelectorAll("textarea[data-line-numbers]").forEach(function (area) {
      var gutter = document.getElementById(area.getAttribute("data-line-numbers"));
      if (!gutter) return;
      var render = function () {
        var count = area.value.split("\n").length, text = "";
        for (var i = 1; i <= count; i++) text += i + "\n";
        gutter.textContent = text;
        gutter.scrollTop = area.scrollTop;
      };
      area.addEventListener("input", render);
      area.addEventListener("scroll", function () { gutter.scrollTop = area.scrollTop; });
      render();
    });
  }

  // The top navigation folds behind a menu button on a phone.
  function navToggle() {
    var button = document.getElementById("nav-toggle");
    var nav = document.getElementById("site-nav");
    if (!button || !nav) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") === "true";
      button.setAttribute("aria-expanded", open ? "false" : "true");
      nav.classList.toggle("open", !open);
    });
  }

  document.addEventListener("submit", confirmIrreversible, true);
  document.addEventListener("DOMContentLoaded", setupEmbeddedCheckout);
  document.addEventListener("change", weekdayFollowsSchedule);
  document.addEventListener("DOMContentLoaded", numberLines);
  document.addEventListener("DOMContentLoaded", navToggle);
  document.addEventListener("htmx:beforeSwap", swapRefusals);
})();
