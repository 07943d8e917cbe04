/* The lead's total score over time (templates/scoring/lead_score.html).
 *
 * A <canvas data-score-chart="ID"> reads its data from the json_script element ID:
 * {"labels": ["2026-11-25 14:03", ...], "totals": [12, ...]}, oldest first. The panel arrives
 * through htmx after the page has loaded, so charts are drawn on htmx:load as well as on
 * DOMContentLoaded (the panel opened as a page of its own). Needs Chart.js 4 (static/vendor).
 */
(function () {
  "use strict";

  function draw(canvas) {
    if (typeof window.Chart === "undefined" || window.Chart.getChart(canvas)) {
      return;
    }
    var source = document.getElementById(canvas.dataset.scoreChart);
    if (!source) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var style = getComputedStyle(document.documentElement);
    var color = style.getPropertyValue("--pico-primary").trim() || "#0172ad";
    var muted = style.getPropertyValue("--pico-muted-color").trim() || "#646b79";
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          {
            label: "Total",
            data: data.totals,
            borderColor: color,
            backgroundColor: color,
            pointRadius: 2,
            tension: 0,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { ticks: { color: muted, maxTicksLimit: 6, maxRotation: 0 } },
          y: { ticks: { color: muted, precision: 0 } },
        },
      },
    });
  }

  function drawAll(root) {
    if (!root || !root.querySelectorAll) {
      return;
    }
    if (root.matches && root.matches("canvas[data-score-chart]")) {
      draw(root);
    }
    root.querySelectorAll("canvas[data-score-chart]").forEach(draw);
  }

  document.addEventListener("htmx:load", function (event) {
    drawAll(event.detail && event.detail.elt);
  });
  document.addEventListener("DOMContentLoaded", function () {
    drawAll(document);
  });
})();
