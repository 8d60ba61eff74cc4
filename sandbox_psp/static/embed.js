// Sends the payment result to the embedding page, and only to its known origin (never "*").
(function () {
  "use strict";
  var node = document.getElementById("holdfast-result");
  if (!node || window.parent === window) {
    return;
  }
  var message = JSON.parse(node.getAttribute("data-message"));
  window.parent.postMessage(message, node.getAttribute("data-origin"));
})();
