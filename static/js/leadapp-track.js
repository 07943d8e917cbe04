/*! LeadApp page tracking. Paste on every page of your site:
 *
 *   <script src="https://HOST/static/js/leadapp-track.js" data-leadapp="https://HOST" async></script>
 *
 * Each page view (URL, title, referrer; UTM parameters are read from the URL by LeadApp) is
 * sent to HOST/t/pv with an anonymous visitor id kept in a first-party cookie "la_vid"
 * (random UUID, one year, SameSite=Lax, on your domain; data-cookie-domain=".example.com"
 * shares it across sub-domains). When the visitor submits a LeadApp form, the views before
 * and after it appear on the lead's timeline.
 *
 * - Do Not Track: if the browser sends it (navigator.doNotTrack === "1"), nothing is sent
 *   and no cookie is set.
 * - Consent: set window.leadappConsentPending = true BEFORE this script, then call
 *   leadapp.consent() once the visitor agrees (e.g. from your cookie banner). Until then
 *   nothing is sent and no cookie is set.
 * - Single-page apps: call leadapp.pageView() after each route change.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var host = ((script && script.getAttribute("data-leadapp")) || "").replace(/\/+$/, "");
  var cookieDomain = script && script.getAttribute("data-cookie-domain");
  var endpoint = host + "/t/pv";
  var COOKIE = "la_vid";
  var ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  var started = false;

  function doNotTrack() {
    return navigator.doNotTrack === "1" || window.doNotTrack === "1";
  }

  function readCookie() {
    var match = document.cookie.match(/(?:^|;\s*)la_vid=([^;]*)/);
    return match && ID.test(match[1]) ? match[1] : null;
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; // version 4
    b[8] = (b[8] & 63) | 128; // RFC 4122 variant
    var hex = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function visitorId() {
    var id = readCookie() || newId();
    // Written on every view: the year counts from the last visit.
    document.cookie = COOKIE + "=" + id + "; Max-Age=31536000; Path=/; SameSite=Lax" +
      (cookieDomain ? "; Domain=" + cookieDomain : "") +
      (location.protocol === "https:" ? "; Secure" : "");
    return id;
  }

  function pageView() {
    if (!started || doNotTrack()) return;
    var body = JSON.stringify({
      vid: visitorId(), url: location.href, title: document.title, referrer: document.referrer
    });
    // A string body goes as text/plain: a "simple" cross-origin request, no preflight.
    if (navigator.sendBeacon && navigator.sendBeacon(endpoint, body)) return;
    if (window.fetch) {
      fetch(endpoint, { method: "POST", body: body, keepalive: true, credentials: "omit" })
        .catch(function () {});
    }
  }

  function consent() {
    if (started || doNotTrack()) return;
    started = true;
    pageView();
  }

  window.leadapp = window.leadapp || {};
  window.leadapp.consent = consent;
  window.leadapp.pageView = pageView;
  window.leadapp.visitorId = readCookie; // null until tracking started

  if (!window.leadappConsentPending) consent();
})();
