/* The SDR queue (templates/leads/queue.html): "Work" on a row opens its panel (htmx) and marks
 * the row as the open one; the page remembers it in #open-row, which the refresh of the live
 * part sends along, so the refreshed table marks the same row.
 */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var link = event.target.closest('[data-testid="work"]');
    var row = link && link.closest("tr[data-testid='queue-row']");
    if (!row) {
      return;
    }
    var field = document.getElementById("open-row");
    if (field) {
      field.value = row.id.replace("row-", "");
    }
    document.querySelectorAll(".queue-table tr.open-row").forEach(function (other) {
      other.classList.remove("open-row");
      other.removeAttribute("aria-current");
    });
    row.classList.add("open-row");
    row.setAttribute("aria-current", "true");
  });
})();
