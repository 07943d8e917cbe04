/* The charts of the scoring report card (templates/scoring/report_card.html).
 *
 * A <canvas data-report-chart="deciles|grades" data-source="ID"> reads its data from the
 * json_script element ID (scoring.report_card.ReportCard.chart_data):
 * {"deciles": {"labels": ["1", ...], "lift": [2.4, ...], "rate": [31.2, ...]},
 *  "grades": {"labels": ["A", ...], "rate": [40.0, null, ...], "leads": [12, ...]},
 *  "overall_rate": 12.5}
 * "deciles" is the lift chart (bars, with the average at 1 as a line); "grades" the conversion
 * rate per grade (bars, with the overall rate as a line). A null is a group without leads.
 * Drawn on DOMContentLoaded and on htmx:load. Needs Chart.js 4 (static/vendor).
 */
(function () {
  "use strict";

  function colors() {
    var style = getComputedStyle(document.documentElement);
    return {
      bar: style.getPropertyValue("--pico-primary").trim() || "#0172ad",
      line: style.getPropertyValue("--pico-del-color").trim() || "#c52f21",
      muted: style.getPropertyValue("--pico-muted-color").trim() || "#646b79",
    };
  }

  function flat(value, count) {
    var values = [];
    for (var i = 0; i < count; i += 1) {
      values.push(value);
    }
    return values;
  }

  function config(kind, data, c) {
    var lift = kind === "deciles";
    var part = data[kind];
    var reference = lift ? 1 : data.overall_rate;
    return {
      data: {
        labels: lift
          ? part.labels
          : part.labels.map(function (label) {
              return "Grade " + label;
            }),
        datasets: [
          {
            type: "bar",
            label: lift ? "Lift" : "Conversion rate (%)",
            data: lift ? part.lift : part.rate,
            backgroundColor: c.bar,
            order: 2,
          },
          {
            type: "line",
            label: lift ? "Average (1.0)" : "Overall rate (%)",
            data: flat(reference, part.labels.length),
            borderColor: c.line,
            borderDash: [6, 4],
            pointRadius: 0,
            order: 1,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { labels: { color: c.muted } } },
        scales: {
          x: {
            title: { display: lift, text: "Decile (1 = highest totals)", color: c.muted },
            ticks: { color: c.muted },
          },
          y: {
            beginAtZero: true,
            title: { display: true, text: lift ? "Lift" : "Conversion rate (%)", color: c.muted },
            ticks: { color: c.muted },
          },
        },
      },
    };
  }

  function draw(canvas) {
    if (typeof window.Chart === "undefined" || window.Chart.getChart(canvas)) {
      return;
    }
    var source = document.getElementById(canvas.dataset.source);
    var kind = canvas.dataset.reportChart;
    if (!source || (kind !== "deciles" && kind !== "grades")) {
      return;
    }
    var data = JSON.parse(source.textContent);
    new window.Chart(canvas, config(kind, data, colors()));
  }

  function drawAll(root) {
    if (!root || !root.querySelectorAll) {
      return;
    }
    if (root.matches && root.matches("canvas[data-report-chart]")) {
      draw(root);
    }
    root.querySelectorAll("canvas[data-report-chart]").forEach(draw);
  }

  document.addEventListener("htmx:load", function (event) {
    drawAll(event.detail && event.detail.elt);
  });
  document.addEventListener("DOMContentLoaded", function () {
    drawAll(document);
  });
})();
