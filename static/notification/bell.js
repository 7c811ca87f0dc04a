/*
 * The notification bell in the header (templates/notification/_bell.html), no dependencies.
 *
 * Without JavaScript the bell is a link to /notifications/. With it, a click opens a dropdown
 * fetched as an HTML fragment from the bell's data-dropdown-url, and the unread count follows the
 * frames that static/js/realtime.js dispatches as `forum:event`:
 *   notification.new   {id, kind, unread_count}   something new (the open dropdown is fetched again)
 *   notification.read  {unread_count}             read in another tab
 * and after a gap in live delivery (forum:realtime-reconnected) asks data-count-url again.
 */
(function () {
  "use strict";

  var bell = document.querySelector("[data-notification-bell]");
  if (!bell) return;
  var link = bell.querySelector("a");
  var count = bell.querySelector("[data-notification-count]");
  var dropdown = bell.querySelector("[data-notification-dropdown]");
  var url = bell.getAttribute("data-dropdown-url");
  var countUrl = bell.getAttribute("data-count-url");
  var loading = null;

  function setCount(value) {
    var number = Number(value) || 0;
    count.textContent = String(number);
    count.hidden = number === 0;
  }

  function isOpen() {
    return !dropdown.hidden;
  }

  function load() {
    if (loading) return loading;
    loading = fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        // The fragment comes from this site's own template, rendered for this member.
        dropdown.innerHTML = html;
        var next = dropdown.querySelector("[data-notification-next]");
        if (next) next.value = window.location.pathname + window.location.search;
      })
      .catch(function () {
        window.location.href = link.href;
      })
      .then(function () {
        loading = null;
      });
    return loading;
  }

  function open() {
    load().then(function () {
      dropdown.hidden = false;
      link.setAttribute("aria-expanded", "true");
    });
  }

  function close() {
    dropdown.hidden = true;
    link.setAttribute("aria-expanded", "false");
  }

  link.addEventListener("click", function (event) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    if (isOpen()) close();
    else open();
  });

  document.addEventListener("click", function (event) {
    if (isOpen() && !bell.contains(event.target)) close();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && isOpen()) {
      close();
      link.focus();
    }
  });

  // Frames sent while the socket was away are lost: ask for the count once it is back.
  document.addEventListener("forum:realtime-reconnected", function () {
    fetch(countUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (body) setCount(body.unread_count);
        if (isOpen()) load();
      })
      .catch(function () {});
  });

  document.addEventListener("forum:event", function (event) {
    var frame = event.detail || {};
    if (frame.type !== "event" || frame.topic) return;
    var payload = frame.payload || {};
    if (frame.kind === "notification.new") {
      setCount(payload.unread_count);
      if (isOpen()) load();
    } else if (frame.kind === "notification.read") {
      setCount(payload.unread_count);
    }
  });
})();
