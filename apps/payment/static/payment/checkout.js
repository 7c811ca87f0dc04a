/*
 * An invoice's checkout page, live (docs/payments.md). Loaded by templates/payment/checkout.html after
 * realtime.js.
 *
 * - Counts down to the expiry in every [data-countdown] (the page shows the time without JavaScript).
 * - Subscribes to the invoice's topic (`invoice:<id>`, its owner only) and, on every `invoice.changed`
 *   frame and after every reconnection, fetches the live part of the page again and swaps it in.
 * - While the invoice is open ([data-check-every] > 0 seconds), asks the server now and then to read
 *   the chain for it (the rate-limited check the "Check now" button also makes); the answer is the
 *   live part of the page.
 * Requests never overlap; the region is replaced only when its content changed, so that screen
 * readers hear only what is new (the region is aria-live="polite").
 */
(function () {
  "use strict";

  var region = document.querySelector("[data-checkout-live]");
  if (!region) return;
  var liveUrl = region.getAttribute("data-live-url");
  var checkUrl = region.getAttribute("data-check-url");
  var topic = region.getAttribute("data-topic");
  var csrf = region.getAttribute("data-csrf");
  var leftText = region.getAttribute("data-left") || "{time}";
  var endedText = region.getAttribute("data-ended") || "";
  var busy = false;
  var pending = null;
  var checkTimer = null;
  var lastHtml = null;

  function swap(html) {
    if (html !== lastHtml) {
      lastHtml = html;
      region.innerHTML = html;
    }
    countdown();
    scheduleCheck();
  }

  function request(kind) {
    if (busy) {
      pending = pending === "check" ? "check" : kind;
      return;
    }
    busy = true;
    var options = { credentials: "same-origin", headers: { Accept: "text/html", "X-Requested-With": "checkout" } };
    if (kind === "check") {
      options.method = "POST";
      options.headers["X-CSRFToken"] = csrf;
    }
    fetch(kind === "check" ? checkUrl : liveUrl, options)
      .then(function (response) {
        return response.status === 200 ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) swap(html);
        else scheduleCheck();
      })
      .catch(function () {
        scheduleCheck();
      })
      .then(function () {
        busy = false;
        if (pending) {
          var next = pending;
          pending = null;
          request(next);
        }
      });
  }

  function scheduleCheck() {
    if (checkTimer) clearTimeout(checkTimer);
    checkTimer = null;
    var status = region.querySelector("[data-check-every]");
    var every = status ? parseInt(status.getAttribute("data-check-every"), 10) : 0;
    if (every > 0) {
      checkTimer = setTimeout(function () {
        request("check");
      }, every * 1000);
    }
  }

  function countdown() {
    var now = Date.now();
    region.querySelectorAll("[data-countdown]").forEach(function (element) {
      var left = Math.round((Date.parse(element.getAttribute("data-expires")) - now) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) {
        element.textContent = "(" + endedText + ")";
        return;
      }
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      var time = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      element.textContent = "(" + leftText.replace("{time}", time) + ")";
    });
  }

  document.addEventListener("forum:event", function (event) {
    var frame = event.detail || {};
    if (frame.type === "event" && frame.kind === "invoice.changed" && frame.topic === topic) {
      request("live");
    }
  });
  document.addEventListener("forum:realtime-reconnected", function () {
    request("live");
  });

  function subscribe() {
    if (window.forumRealtime) window.forumRealtime.subscribe(topic);
  }
  if (window.forumRealtime) {
    subscribe();
  } else {
    // realtime.js is deferred too; it is there once the document has loaded.
    document.addEventListener("DOMContentLoaded", subscribe);
  }

  // The countdown is aria-hidden: screen readers have the expiry time beside it, and are not told
  // every second of the live region that it changed.
  countdown();
  setInterval(countdown, 1000);
  scheduleCheck();
})();
