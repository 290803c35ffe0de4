// timeline and inbox pages: progressive enhancement only; pages work without it.
"use strict";
// The inbox's « Tout sélectionner »: shown only when this script runs; it ticks or unticks
// every file of the page, and follows the boxes ticked one by one.
(function () {
  const all = document.getElementById("tout-selectionner");
  if (!all) return;
  const boxes = () => Array.from(document.querySelectorAll('input[type=checkbox][name=dossier]'));
  const label = all.closest("label");
  if (label) label.hidden = false;
  all.hidden = false;
  all.addEventListener("change", () => {
    for (const b of boxes()) b.checked = all.checked;
  });
  document.addEventListener("change", (e) => {
    if (e.target.name !== "dossier") return;
    const bs = boxes();
    const n = bs.filter(b => b.checked).length;
    all.checked = n === bs.length && n > 0;
    all.indeterminate = n > 0 && n < bs.length;
  });
})();
