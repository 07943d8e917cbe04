/* The KPI dashboard's charts (templates/leads/reports.html).
 *
 * Each <canvas data-dashboard-chart="NAME"> draws NAME from the json_script "dashboard-charts"
 * (funnel, mqls, cycle, roi). The dashboard is swapped by htmx when a filter changes: the old
 * charts are destroyed with their canvases, and the new ones are drawn on htmx:load.
 * Needs Chart.js 4 (static/vendor).
 */
(function () {
  "use strict";

  function palette() {
    var style = getComputedStyle(document.documentElement);
    return {
      primary: style.getPropertyValue("--pico-primary").trim() || "#0172ad",
      muted: style.getPropertyValue("--pico-muted-color").trim() || "#646b79",
      accent: "#d97706",
    };
  }

  function config(name, data, colors) {
    var bar = function (label, values, color) {
      return { label: label, data: values, backgroundColor: color, borderColor: color };
    };
    if (name === "funnel") {
      var sets = [bar("This period", data.current, colors.primary)];
      if (data.previous) {
        sets.push(bar("Before", data.previous, colors.muted));
      }
      return { type: "bar", data: { labels: data.labels, datasets: sets } };
    }
    if (name === "mqls") {
      return { type: "bar", data: { labels: data.labels, datasets: [bar("New MQLs", data.counts, colors.primary)] } };
    }
    if (name === "cycle") {
      return { type: "bar", data: { labels: data.labels, datasets: [bar("Customers", data.counts, colors.primary)] } };
    }
    if (name === "roi") {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [bar("Cost", data.cost, colors.muted), bar("Revenue", data.revenue, colors.accent)],
        },
      };
    }
    return null;
  }

  function drawAll(root) {
    if (typeof window.Chart === "undefined") {
      return;
    }
    var source = document.getElementById("dashboard-charts");
    if (!source) {
      return;
    }
    var charts = JSON.parse(source.textContent);
    var colors = palette();
    (root || document).querySelectorAll("canvas[data-dashboard-chart]").forEach(function (canvas) {
      var name = canvas.dataset.dashboardChart;
      if (window.Chart.getChart(canvas) || !charts[name]) {
        return;
      }
      var setup = config(name, charts[name], colors);
      if (!setup) {
        return;
      }
      setup.options = {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: setup.data.datasets.length > 1 } },
        scales: { y: { beginAtZero: true } },
      };
      var chart = new window.Chart(canvas, setup);
      // The browser test (and a curious reader) can see what each chart shows.
      canvas.dataset.values = JSON.stringify(setup.data.datasets.map(function (set) { return set.data; }));
      return chart;
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
})();
