/*! LeadApp forms. Paste where the form should appear:
 *
 *   <div data-leadapp-form="SLUG"></div>
 *   <script src="https://HOST/static/js/leadapp-form.js" async></script>
 *
 * The form (the same HTML as its hosted page, from HOST/f/SLUG/embed.json) is rendered into
 * the div and posted with fetch to HOST/f/SLUG/submit, carrying the page URL, its UTM
 * parameters, document.referrer and the visitor id of LeadApp's tracking cookie (la_vid).
 * Field errors show beside the fields; then the success message, or the form's redirect.
 * data-leadapp="https://HOST" on the script tag names the LeadApp host when the script is
 * served from elsewhere. No dependencies; no cookies of LeadApp's are sent.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var host = ((script && script.getAttribute("data-leadapp")) ||
    (script && script.src ? new URL(script.src, location.href).origin : "")).replace(/\/+$/, "");
  var UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
  var STYLE = ".la-form .la-field{margin:0 0 .8em}.la-form .la-field>label,.la-form legend{display:block}" +
    ".la-form .la-help{display:block;opacity:.75}.la-form .la-error,.la-form .la-form-error{display:block;color:#b3261e}" +
    ".la-form .la-error[hidden],.la-form .la-form-error[hidden]{display:none}";

  function load(slug) {
    return fetch(host + "/f/" + encodeURIComponent(slug) + "/embed.json", { credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw new Error("LeadApp form " + slug + ": " + response.status);
        return response.json();
      });
  }

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|;\\s*)" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function hidden(form, name, value) {
    var input = form.querySelector('input[type="hidden"][name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    if (value) input.value = value;
  }

  function carry(form) {
    var params = new URLSearchParams(location.search);
    hidden(form, "la_page_url", location.href);
    hidden(form, "la_referrer", document.referrer);
    hidden(form, "la_vid", cookie("la_vid"));
    UTM.forEach(function (key) { hidden(form, key, params.get(key)); });
  }

  function values(form) {
    var out = {};
    new FormData(form).forEach(function (value, name) {
      out[name] = name in out ? [].concat(out[name], value) : value;
    });
    // A multi-select with nothing ticked still says so.
    form.querySelectorAll("fieldset input[type=checkbox]").forEach(function (box) {
      if (!(box.name in out)) out[box.name] = [];
      else if (!Array.isArray(out[box.name])) out[box.name] = [out[box.name]];
    });
    return out;
  }

  function showErrors(form, errors) {
    var shown = {};
    form.querySelectorAll("[data-error-for]").forEach(function (el) {
      var name = el.getAttribute("data-error-for");
      var messages = errors[name];
      el.textContent = messages ? messages.join(" ") : "";
      el.hidden = !messages;
      if (messages) shown[name] = true;
      var field = el.closest(".la-field");
      if (field) field.classList.toggle("la-has-error", !!messages);
    });
    var rest = Object.keys(errors).filter(function (name) { return !shown[name]; });
    if (rest.length) {
      var top = form.querySelector('[data-error-for="__all__"]');
      top.textContent = rest.map(function (name) { return errors[name].join(" "); }).join(" ");
      top.hidden = false;
    }
    var first = form.querySelector(".la-has-error input, .la-has-error select, .la-has-error textarea");
    if (first) first.focus();
  }

  function wait(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function send(box, form, slug, url, retried) {
    return fetch(url, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(values(form))
    }).then(function (response) {
      return response.json();
    }).then(function (result) {
      if (result.ok) {
        if (result.redirect) {
          location.href = result.redirect;
          return;
        }
        var done = document.createElement("p");
        done.className = "la-success";
        done.setAttribute("role", "status");
        done.textContent = result.message;
        form.replaceWith(done);
        return;
      }
      if (result.code === "stale_token" && !retried) {
        // The page was open too long: a fresh token, the minimum fill time, and once more.
        return load(slug).then(function (fresh) {
          hidden(form, "la_token", fresh.token);
          return wait(fresh.min_fill_seconds * 1000 + 300);
        }).then(function () {
          return send(box, form, slug, url, true);
        });
      }
      showErrors(form, result.errors || { __all__: [result.message || "The form could not be sent."] });
    });
  }

  function render(box) {
    if (box.getAttribute("data-leadapp-ready")) return;
    box.setAttribute("data-leadapp-ready", "1");
    var slug = box.getAttribute("data-leadapp-form");
    load(slug).then(function (definition) {
      box.innerHTML = definition.html;
      var form = box.querySelector("form");
      carry(form);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = form.querySelector("button[type=submit]");
        if (button) button.disabled = true;
        send(box, form, slug, definition.submit_url, false).catch(function () {
          showErrors(form, { __all__: ["The form could not be sent. Please check your connection and try again."] });
        }).then(function () {
          if (button) button.disabled = false;
        });
      });
    }).catch(function (error) {
      box.textContent = "This form is not available.";
      if (window.console) console.warn(error);
    });
  }

  function start() {
    if (!document.getElementById("leadapp-form-style")) {
      var style = document.createElement("style");
      style.id = "leadapp-form-style";
      style.textContent = STYLE;
      document.head.appendChild(style);
    }
    document.querySelectorAll("[data-leadapp-form]").forEach(render);
  }

  window.leadapp = window.leadapp || {};
  window.leadapp.renderForms = start;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
