// One card field inside its PSP-origin frame. Its value goes only to sibling frames of this
// same origin (postMessage with this origin as the target), and the number frame sends the
// three values to this origin's token endpoint. The platform's page hears only what changed
// (complete, empty, an error message) and, at the end, the token and display data.
(function () {
  "use strict";
  var input = document.getElementById("field");
  if (!input || window.parent === window) return;
  var field = input.getAttribute("data-field");
  var channel = input.getAttribute("data-channel");
  var key = input.getAttribute("data-key");
  var parentOrigin = input.getAttribute("data-parent");
  var own = window.location.origin;
  var collected = null;
  var waiting = null;

  function tell(message) {
    message.source = "holdfast-fields";
    message.channel = channel;
    message.field = field;
    window.parent.postMessage(message, parentOrigin);
  }

  function digits(value) { return (value || "").replace(/\D/g, ""); }

  function luhn(number) {
    var total = 0;
    for (var i = 0; i < number.length; i++) {
      var digit = Number(number.charAt(number.length - 1 - i));
      if (i % 2 === 1) digit = digit > 4 ? digit * 2 - 9 : digit * 2;
      total += digit;
    }
    return total % 10 === 0;
  }

  // Returns null when the value is usable, else the message the buyer reads.
  var checks = {
    number: function (value) {
      var d = digits(value);
      if (d.length < 12 || d.length > 19 || !luhn(d)) return "Your card number is incorrect.";
      return null;
    },
    expiry: function (value) {
      var match = /^\s*(\d{1,2})\s*\/?\s*(\d{2})\s*$/.exec(value || "");
      if (!match || Number(match[1]) < 1 || Number(match[1]) > 12) {
        return "Your card's expiry date is incomplete or invalid.";
      }
      var now = new Date();
      var year = 2000 + Number(match[2]);
      var month = Number(match[1]);
      if (year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1)) {
        return "Your card's expiry date is in the past.";
      }
      return null;
    },
    cvc: function (value) {
      return /^\s*\d{3,4}\s*$/.test(value || "") ? null : "Your card's security code is invalid.";
    }
  };

  function format() {
    if (field === "number") {
      var grouped = digits(input.value).slice(0, 19).replace(/(\d{4})(?=\d)/g, "$1 ");
      if (grouped !== input.value) input.value = grouped;
    } else if (field === "expiry") {
      var d = digits(input.value).slice(0, 4);
      var shown = d.length > 2 ? d.slice(0, 2) + " / " + d.slice(2) : d;
      if (shown !== input.value && !/\/\s*$/.test(input.value)) input.value = shown;
    }
  }

  function report(withError) {
    var problem = checks[field](input.value);
    input.className = withError && problem ? "invalid" : "";
    tell({type: "change", empty: input.value === "", complete: problem === null,
          error: withError && input.value !== "" ? problem : null});
  }

  function fail(failedField, message) {
    tell({type: "error", error: {field: failedField, message: message}});
  }

  function sendToken() {
    var values = {number: input.value, expiry: collected.expiry, cvc: collected.cvc};
    var names = ["number", "expiry", "cvc"];
    for (var i = 0; i < names.length; i++) {
      var problem = checks[names[i]](values[names[i]]);
      if (problem) return fail(names[i], problem);
    }
    fetch("/fields/v1/tokens", {
      method: "POST", credentials: "omit", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({key: key, number: digits(values.number), expiry: values.expiry,
                            cvc: values.cvc.trim()})
    }).then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, body: body}; });
    }).then(function (answer) {
      if (answer.ok) {
        tell({type: "token", token: answer.body.id, card: answer.body.card});
      } else {
        var error = answer.body.error || {};
        fail(error.param || "number", error.message || "Your card could not be read.");
      }
    }, function () {
      fail("form", "The payment provider could not be reached. Nothing has been charged.");
    });
  }

  function tokenize() {
    collected = {};
    // Ask every frame of the parent page; only this origin's frames can receive it.
    for (var i = 0; i < window.parent.frames.length; i++) {
      window.parent.frames[i].postMessage({type: "collect", channel: channel}, own);
    }
    clearTimeout(waiting);
    waiting = setTimeout(function () {
      if (collected && !("token" in collected)) fail("form", "The card form is incomplete.");
    }, 3000);
  }

  window.addEventListener("message", function (event) {
    var data = event.data || {};
    if (data.channel !== channel) return;
    if (event.origin === own && data.type === "collect" && field !== "number") {
      event.source.postMessage({type: "value", channel: channel, field: field,
                                value: input.value}, own);
    } else if (event.origin === own && data.type === "value" && field === "number" && collected) {
      collected[data.field] = data.value;
      if ("expiry" in collected && "cvc" in collected) {
        clearTimeout(waiting);
        collected.token = true;
        sendToken();
      }
    } else if (event.origin === parentOrigin && event.source === window.parent &&
               data.type === "tokenize" && field === "number") {
      tokenize();
    } else if (event.origin === parentOrigin && event.source === window.parent &&
               data.type === "focus") {
      input.focus();
    }
  });

  input.addEventListener("input", function () { format(); report(false); });
  input.addEventListener("blur", function () { report(true); });
  input.addEventListener("focus", function () { tell({type: "focus"}); });
  tell({type: "ready"});
})();
