// form pages: progressive enhancement only; pages work without it (every field shows, the
// server's rules decide what is required).
"use strict";
(function () {
  // The values a control sends, as the server reads them.
  function sent(form, name) {
    var out = [];
    Array.prototype.forEach.call(form.elements, function (c) {
      if (c.name !== name || c.disabled) {
        return;
      }
      if (c.type === "radio" || c.type === "checkbox") {
        if (c.checked) {
          out.push(c.value);
        }
      } else if (c.value) {
        out.push(c.value);
      }
    });
    return out;
  }

  // A field is shown only when the condition it depends on holds (data-visible-when names
  // the control, data-visible-values the values); a hidden field is disabled, so not sent.
  function conditions(form) {
    form.querySelectorAll("[data-visible-when]").forEach(function (el) {
      var name = el.getAttribute("data-visible-when");
      // A form without the control (the pieces' form of a filed file) cannot tell: show it.
      if (!form.elements.namedItem(name)) {
        return;
      }
      var want = (el.getAttribute("data-visible-values") || "").split(" ");
      var have = sent(form, name);
      var on = have.some(function (v) {
        return want.indexOf(v) >= 0;
      });
      el.hidden = !on;
      el.querySelectorAll("input, select, textarea").forEach(function (c) {
        c.disabled = !on;
      });
    });
  }

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  // Communes: a search by name over the boxes, and the list of those chosen.
  function communes(box) {
    var search = box.querySelector("[data-communes-search]");
    var chosen = box.querySelector("[data-communes-chosen]");
    var input = search && search.querySelector("input");
    var count = search && search.querySelector("[aria-live]");
    function update() {
      var q = input ? fold(input.value.trim()) : "";
      var found = 0;
      box.querySelectorAll("[data-communes-group]").forEach(function (g) {
        var seen = 0;
        g.querySelectorAll("[data-commune-name]").forEach(function (l) {
          var hit = !q || fold(l.getAttribute("data-commune-name")).indexOf(q) >= 0;
          l.hidden = !hit;
          if (hit) {
            seen += 1;
          }
        });
        found += seen;
        g.hidden = seen === 0;
        if (q && seen > 0) {
          g.open = true;
        }
      });
      if (count) {
        count.textContent = q
          ? found === 0
            ? "Aucune commune ne porte ce nom."
            : found === 1
              ? "1 commune trouvée."
              : found + " communes trouvées."
          : "";
      }
      if (chosen) {
        var names = [];
        box.querySelectorAll("[data-commune-name] input:checked").forEach(function (c) {
          names.push(c.parentNode.getAttribute("data-commune-name"));
        });
        chosen.textContent = names.length
          ? "Communes choisies\u00a0: " + names.join(", ") + "."
          : "Aucune commune choisie.";
      }
    }
    if (search) {
      search.hidden = false;
      input.addEventListener("input", update);
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter") {
          e.preventDefault();
        }
      });
    }
    box.addEventListener("change", update);
  }

  document.querySelectorAll("form").forEach(function (form) {
    if (form.querySelector("[data-visible-when]")) {
      conditions(form);
      form.addEventListener("change", function () {
        conditions(form);
      });
    }
  });
  document.querySelectorAll("[data-communes-search]").forEach(function (s) {
    communes(s.parentNode);
  });

  // A refused form: the focus goes to the summary of its errors.
  var summary = document.querySelector("[data-focus-first]");
  if (summary) {
    summary.focus();
  }
})();
