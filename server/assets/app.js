// metroplan: pages work without this file; it only prevents a form from being sent twice
// by a double click (the server refuses the second one anyway: versions and idempotency).
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
    return;
  }
  if (form.dataset.sent === "1") {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "1";
  window.setTimeout(function () {
    form.querySelectorAll("button[type=submit]").forEach(function (b) {
      b.disabled = true;
    });
  }, 0);
});
