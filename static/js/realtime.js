/*
 * Live delivery for forum pages: one WebSocket to the gateway (docs/realtime.md), no dependencies.
 *
 * Connects to <meta name="forum-websocket-url" content="..."> when the page has it, else to /ws/
 * on the page's own host. Reconnects with doubling, jittered delays (firstDelayMs to longestDelayMs)
 * and subscribes again to every topic it held; the delays start over only once a socket has stayed
 * up for stableAfterMs, so a server that accepts and at once closes (1011: Redis away) is not
 * hammered. What arrives is dispatched on `document`:
 *   forum:event            detail = an "event" or "whisper" frame
 *   forum:subscribed       detail = {topic}
 *   forum:realtime-error   detail = an "error" frame
 *   forum:realtime-status  detail = {state: "connected"|"offline", code, retrying, retryInMs}
 *   forum:realtime-reconnected  detail = {offlineMs}: live delivery is back after a gap in which
 *                          frames were lost; pages that follow live data fetch what they missed
 * and <body data-realtime="connected|offline"> tells pages whether live delivery is up.
 *
 * When the socket cannot connect (or reconnect) for noticeAfterMs (5 s), the page's
 * <... data-live-status hidden> notice is shown; it is hidden again once the socket is back.
 *
 * window.forumRealtime.subscribe(topic), .unsubscribe(topic), .whisper(topic, kind, payload),
 * .state, .stop(). A page may set window.forumRealtimeOptions = {firstDelayMs, longestDelayMs,
 * stableAfterMs, pingEveryMs, pongWithinMs, noticeAfterMs} before this script runs.
 */
(function () {
  "use strict";

  var CLOSE_UNAUTHENTICATED = 4401;
  var options = window.forumRealtimeOptions || {};
  var FIRST_DELAY_MS = options.firstDelayMs || 1000;
  var LONGEST_DELAY_MS = options.longestDelayMs || 30000;
  // A socket that stayed up this long was a working connection: after it drops, the next attempt
  // comes within firstDelayMs again. One that is closed sooner (even after "ready") keeps doubling.
  var STABLE_AFTER_MS = options.stableAfterMs || 10000;
  var PING_EVERY_MS = options.pingEveryMs || 25000;
  var PONG_WITHIN_MS = options.pongWithinMs || 10000;
  // A blip (a server restart, a network change) reconnects within a second or two: say nothing.
  var NOTICE_AFTER_MS = options.noticeAfterMs || 5000;
  // Refusals that would be the same on every retry: the topic is dropped, not subscribed again.
  var FINAL_REFUSALS = ["forbidden", "unknown_topic", "invalid_topic", "too_many_subscriptions"];

  var topics = new Set();
  var socket = null;
  var ready = false;
  var stopped = false;
  var state = null;
  var delay = FIRST_DELAY_MS;
  var retryTimer = null;
  var pingTimer = null;
  var pongTimer = null;
  var noticeTimer = null;
  var noticeShown = false;
  var everConnected = false;
  var offlineSince = Date.now();
  var readyAt = null;

  function endpoint() {
    var meta = document.querySelector('meta[name="forum-websocket-url"]');
    var configured = meta && meta.content ? meta.content.trim() : "";
    var url = new URL(configured || "/ws/", window.location.href);
    if (url.protocol === "http:") url.protocol = "ws:";
    if (url.protocol === "https:") url.protocol = "wss:";
    return url.href;
  }

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  function showNotice(show) {
    noticeShown = show;
    var notice = typeof document.querySelector === "function" ? document.querySelector("[data-live-status]") : null;
    if (notice) notice.hidden = !show;
  }

  // The notice follows the state: shown after NOTICE_AFTER_MS of trying in vain, hidden once the
  // socket is back, and also when retrying stops (no member on the page: nothing is paused).
  function followNotice(next, retrying) {
    if (next === "offline" && retrying) {
      if (noticeTimer || noticeShown) return;
      noticeTimer = setTimeout(function () {
        noticeTimer = null;
        if (state !== "connected" && !stopped) showNotice(true);
      }, NOTICE_AFTER_MS);
      return;
    }
    clearTimeout(noticeTimer);
    noticeTimer = null;
    if (noticeShown) showNotice(false);
  }

  function setState(next, code, retrying, retryInMs) {
    if (state === "connected" && next !== "connected") offlineSince = Date.now();
    state = next;
    if (document.body) document.body.setAttribute("data-realtime", next);
    followNotice(next, retrying);
    emit("forum:realtime-status", {
      state: next,
      code: code === undefined ? null : code,
      retrying: !!retrying,
      retryInMs: retryInMs === undefined ? null : Math.round(retryInMs),
    });
  }

  function send(message) {
    if (!ready || !socket) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  function clearTimers() {
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    pingTimer = pongTimer = null;
  }

  function keepAlive() {
    // A connection that died without a close (a sleeping laptop, a dropped Wi-Fi) is only noticed
    // when an answer does not come.
    pingTimer = setInterval(function () {
      if (!send({ type: "ping" }) || pongTimer) return;
      pongTimer = setTimeout(function () {
        if (socket) socket.close(4000, "no pong");
      }, PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  function handle(frame) {
    switch (frame.type) {
      case "ready":
        ready = true;
        readyAt = Date.now();
        // Frames were lost if a connection came before this one, or if the page waited long enough
        // for the notice to show (it was rendered before the gap began).
        var missed = everConnected || noticeShown;
        everConnected = true;
        setState("connected");
        topics.forEach(function (topic) {
          send({ type: "subscribe", topic: topic });
        });
        keepAlive();
        if (missed) emit("forum:realtime-reconnected", { offlineMs: Date.now() - offlineSince });
        break;
      case "pong":
        clearTimeout(pongTimer);
        pongTimer = null;
        break;
      case "event":
      case "whisper":
        emit("forum:event", frame);
        break;
      case "subscribed":
        emit("forum:subscribed", { topic: frame.topic });
        break;
      case "error":
        if (frame.topic && FINAL_REFUSALS.indexOf(frame.code) !== -1) topics.delete(frame.topic);
        emit("forum:realtime-error", frame);
        break;
    }
  }

  function connect() {
    retryTimer = null;
    if (stopped || socket) return;
    var current;
    try {
      current = new WebSocket(endpoint());
    } catch (error) {
      retry(null);
      return;
    }
    socket = current;
    current.onmessage = function (message) {
      var frame;
      try {
        frame = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (frame && typeof frame.type === "string") handle(frame);
    };
    function lost(code) {
      if (socket !== current) return;
      socket = null;
      ready = false;
      clearTimers();
      if (readyAt !== null && Date.now() - readyAt >= STABLE_AFTER_MS) delay = FIRST_DELAY_MS;
      readyAt = null;
      // 4401: no member behind this page (signed out, session gone); retrying cannot help.
      if (code === CLOSE_UNAUTHENTICATED || stopped) {
        stopped = true;
        setState("offline", code, false);
        return;
      }
      retry(code);
    }
    current.onclose = function (closed) {
      lost(closed.code);
    };
    // A failed connection is followed by "close" in browsers, but not in every runtime.
    current.onerror = function () {
      lost(1006);
      try {
        current.close();
      } catch (error) {
        // already closed
      }
    };
  }

  function retry(code) {
    // "Equal jitter": between half the delay and all of it, so that the pages a restart or an outage
    // dropped at once do not all come back at once.
    var wait = delay / 2 + Math.random() * (delay / 2);
    delay = Math.min(delay * 2, LONGEST_DELAY_MS);
    setState("offline", code, true, wait);
    retryTimer = setTimeout(connect, wait);
  }

  function reconnectNow() {
    if (stopped || socket || !retryTimer) return;
    clearTimeout(retryTimer);
    delay = FIRST_DELAY_MS;
    connect();
  }

  window.forumRealtime = {
    subscribe: function (topic) {
      if (typeof topic !== "string" || topics.has(topic)) return;
      topics.add(topic);
      send({ type: "subscribe", topic: topic });
    },
    unsubscribe: function (topic) {
      if (!topics.delete(topic)) return;
      send({ type: "unsubscribe", topic: topic });
    },
    // Ephemeral ("typing..."): sent only while connected and subscribed, never queued.
    whisper: function (topic, kind, payload) {
      if (!topics.has(topic)) return false;
      return send({ type: "whisper", topic: topic, kind: kind, payload: payload || {} });
    },
    get state() {
      return state;
    },
    stop: function () {
      stopped = true;
      clearTimeout(retryTimer);
      followNotice("offline", false);
      if (socket) socket.close(1000);
    },
  };

  if (typeof window.addEventListener === "function") window.addEventListener("online", reconnectNow);

  function start() {
    setState("offline", null, true);
    connect();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
