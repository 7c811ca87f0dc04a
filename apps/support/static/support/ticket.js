/*
 * A support ticket's page, live for both sides (docs/support.md). Loaded by templates/support/ticket.html
 * after realtime.js.
 *
 * The page subscribes to its ticket's topics (`ticket:<id>`, and `ticketstaff:<id>` for staff, where
 * internal notes go) and, on every `ticket.changed` frame and after every reconnection, fetches the
 * live part of the page again (#ticket-live, rendered by the server for this viewer: the frame carries
 * only the ticket's id) and swaps it in. Fetches never overlap: a frame that comes while one runs asks
 * for one more afterwards. Without JavaScript the page is a plain page; reloading shows the same.
 */
(function () {
  "use strict";

  var region = document.querySelector("[data-ticket-live]");
  if (!region) return;
  var url = region.getAttribute("data-live-url");
  var topics = (region.getAttribute("data-topics") || "").split(/\s+/).filter(Boolean);
  var fetching = false;
  var again = false;

  function refresh() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) region.innerHTML = html;
      })
      .catch(function () {})
      .then(function () {
        fetching = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function subscribe() {
    if (!window.forumRealtime) return;
    topics.forEach(function (topic) {
      window.forumRealtime.subscribe(topic);
    });
  }

  document.addEventListener("forum:event", function (event) {
    var frame = event.detail || {};
    if (frame.type === "event" && frame.kind === "ticket.changed" && topics.indexOf(frame.topic) !== -1) {
      refresh();
    }
  });
  document.addEventListener("forum:realtime-reconnected", refresh);

  if (window.forumRealtime) {
    subscribe();
  } else {
    // realtime.js is deferred too; it is there once the document has loaded.
    document.addEventListener("DOMContentLoaded", subscribe);
  }
})();
