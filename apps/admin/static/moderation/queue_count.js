/*
 * The moderation queue's count in the staff header ("Moderation (N)"), live: the page subscribes to
 * the staff-only topic `modqueue:all`, whose `moderation.queue_count` frames carry the new count;
 * once subscribed, and after a gap in live delivery, it asks the API again. Without JavaScript the
 * count is the page's.
 */
(function () {
  "use strict";
  var TOPIC = "modqueue:all";
  var COUNT_URL = "/api/v1/moderation/queue/count";

  function show(count) {
    if (typeof count !== "number") return;
    document.querySelectorAll("[data-moderation-count]").forEach(function (node) {
      node.textContent = String(count);
    });
  }

  function refresh() {
    fetch(COUNT_URL, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (body) show(body.count);
      })
      .catch(function () {});
  }

  function subscribe() {
    if (window.forumRealtime && document.querySelector("[data-moderation-count]")) {
      window.forumRealtime.subscribe(TOPIC);
    }
  }

  document.addEventListener("forum:event", function (event) {
    var frame = event.detail || {};
    if (frame.type === "event" && frame.kind === "moderation.queue_count" && frame.topic === TOPIC) {
      show((frame.payload || {}).count);
    }
  });
  document.addEventListener("forum:realtime-reconnected", refresh);
  // Once subscribed, ask once: a change pushed while this page loaded (after the server drew its
  // count, before the subscription) reached no socket of this page.
  document.addEventListener("forum:subscribed", function (event) {
    if ((event.detail || {}).topic === TOPIC) refresh();
  });

  if (window.forumRealtime) {
    subscribe();
  } else {
    document.addEventListener("DOMContentLoaded", subscribe);
  }
})();
