// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";

  // Show/hide password toggles.
  document.querySelectorAll("input[data-reveal]").forEach(function (input) {
    var label = document.createElement("label");
    label.className = "reveal";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.addEventListener("change", function () {
      input.type = box.checked ? "text" : "password";
    });
    label.appendChild(box);
    label.appendChild(document.createTextNode(" " + input.getAttribute("data-reveal")));
    input.insertAdjacentElement("afterend", label);
  });

  // Password strength meter: a hint; the server's policy decides.
  function score(value) {
    if (!value) return 0;
    var classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter(function (r) { return r.test(value); }).length;
    var s = 1;
    if (value.length >= 8) s++;
    if (value.length >= 12 && classes >= 2) s++;
    if (value.length >= 16 && classes >= 3) s++;
    return Math.min(s, 4);
  }
  document.querySelectorAll("input[data-strength]").forEach(function (input) {
    var meter = document.getElementById(input.getAttribute("data-strength"));
    if (!meter) return;
    var levels = (meter.getAttribute("data-levels") || "").split("|");
    meter.hidden = false;
    function update() {
      var s = score(input.value);
      meter.textContent = meter.getAttribute("data-label") + ": " + (levels[s] || "");
      meter.setAttribute("data-score", String(s));
    }
    input.addEventListener("input", update);
    update();
  });

  // Confirmation shortcut for forms that ask first (Force Sign In).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();
