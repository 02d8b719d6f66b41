// Checks resident ID numbers as they are typed (GB 11643-1999), with the API's own messages
// (the form carries them). The server checks again on submit; without JavaScript only it does.
(function () {
  "use strict";
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECK = "10X98765432";

  function problem(value, form) {
    if (!/^[0-9]{17}[0-9X]$/.test(value)) return form.dataset.idFormat;
    var y = +value.slice(6, 10), m = +value.slice(10, 12), d = +value.slice(12, 14);
    var born = new Date(Date.UTC(y, m - 1, d));
    if (born.getUTCFullYear() !== y || born.getUTCMonth() !== m - 1 || born.getUTCDate() !== d ||
        y < 1900 || born > new Date()) return form.dataset.idBirth;
    var total = 0;
    for (var i = 0; i < 17; i++) total += (+value[i]) * WEIGHTS[i];
    if (CHECK[total % 11] !== value[17]) return form.dataset.idCheck;
    return null;
  }

  function check(input) {
    var form = input.form;
    var kind = form.elements[input.name.replace(".id_number", ".kind")];
    var value = input.value.trim().toUpperCase();
    var id = input.id + "-live";
    var note = document.getElementById(id);
    var message = value && kind && kind.value === "person" && value.length >= 18 ? problem(value, form) : null;
    if (!note) {
      note = document.createElement("p");
      note.id = id;
      note.className = "err";
      note.setAttribute("aria-live", "polite");
      input.insertAdjacentElement("afterend", note);
    }
    note.textContent = message || "";
    note.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else if (!document.getElementById(input.id + "-err")) input.removeAttribute("aria-invalid");
  }

  document.querySelectorAll("form[data-id-check] input[name$='.id_number']").forEach(function (input) {
    input.addEventListener("input", function () { check(input); });
    input.addEventListener("blur", function () { check(input); });
  });
})();
