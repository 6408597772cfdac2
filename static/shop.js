// Progressive enhancement only: every form works without this file, and the
// server's password policy decides; the meter only helps.
(function () {
  "use strict";

  // Show/hide password: a labelled checkbox after each password input.
  document.querySelectorAll("input[data-reveal]").forEach(function (input) {
    var box = document.createElement("input");
    box.type = "checkbox";
    box.id = input.id + "-reveal";
    box.setAttribute("aria-controls", input.id);
    var label = document.createElement("label");
    label.className = "reveal";
    label.htmlFor = box.id;
    label.textContent = input.getAttribute("data-reveal");
    var wrap = document.createElement("div");
    wrap.className = "reveal-row";
    wrap.appendChild(box);
    wrap.appendChild(label);
    box.addEventListener("change", function () {
      input.type = box.checked ? "text" : "password";
    });
    // After the input and its error note, before the hint.
    var after = input;
    var next = input.nextElementSibling;
    if (next && next.classList.contains("field-error")) after = next;
    after.insertAdjacentElement("afterend", wrap);
  });

  // Password strength, measured against the shop's policy (data-min, data-classes).
  function classes(value) {
    return [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter(function (r) {
      return r.test(value);
    }).length;
  }
  function score(value, min, required) {
    if (!value) return 0;
    var c = classes(value);
    if (value.length < min || /\s/.test(value) || c < required) return 1;
    var s = 2;
    if (value.length >= Math.max(min, 10) && c >= 2) s++;
    if (value.length >= Math.max(min, 14) && c >= 3) s++;
    return s;
  }
  document.querySelectorAll("input[data-strength]").forEach(function (input) {
    var meter = document.getElementById(input.getAttribute("data-strength"));
    if (!meter) return;
    var levels = (meter.getAttribute("data-levels") || "").split("|");
    var min = parseInt(meter.getAttribute("data-min"), 10) || 6;
    var required = parseInt(meter.getAttribute("data-classes"), 10) || 0;
    meter.hidden = false;
    // Rewritten only when the level changes, so screen readers hear each level once.
    function update() {
      var s = String(score(input.value, min, required));
      if (meter.getAttribute("data-score") === s) return;
      meter.textContent = meter.getAttribute("data-label") + ": " + (levels[s] || "");
      meter.setAttribute("data-score", s);
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

  // After a failed POST, put the cursor in the first input that needs fixing.
  var invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
})();
