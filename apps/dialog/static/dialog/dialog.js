/*
 * Dialogs, live (docs/dialogs.md). Loaded on every page of a signed-in member, after realtime.js.
 *
 * Every page: the header's unread-dialogs badge follows the `unread_dialogs` count that each
 * `dialog.*` event carries for its receiver.
 * The list of dialogs (#dialog-list): fetched again and swapped in when any dialog changes.
 * A dialog page ([data-dialog]):
 *   - new messages are appended from the event's HTML when they follow the last message the page
 *     has (`previous_message_id`); otherwise, and after every (re)connection, the page asks the API
 *     for the messages after its last one (`?after=<id>`): nothing is missed, nothing is repeated;
 *   - edits and deletions change the page; read receipts of the others update "Seen by";
 *   - a new message that arrives while the tab is visible is acknowledged with a read receipt; one
 *     that arrives in a hidden tab, when the tab is shown again (Page Visibility API);
 *   - typing in the form whispers "typing" on the topic dialog:<id> (never stored), and the others'
 *     whispers show "<name> is typing…" for a few seconds;
 *   - messages arrive in the page's shape (templates/dialog/_message.html): a bubble, the member's
 *     own or another's, a day separator before the first of a day (days and times in UTC, as the
 *     server shows them), the name once for a run of one author's messages;
 *   - opened without a #message-<id> to go to, the page shows its latest message.
 * Without JavaScript the pages work as plain pages; nothing here is needed to read or write.
 */
(function () {
  "use strict";

  var TYPING_EVERY_MS = 3000;
  var TYPING_SHOWN_MS = 5000;

  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      return headers["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function api(method, url, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  // --- The badge ---------------------------------------------------------------------------------

  function setBadge(count) {
    if (typeof count !== "number") return;
    document.querySelectorAll("[data-dialog-unread]").forEach(function (badge) {
      badge.textContent = String(count);
      badge.hidden = count <= 0;
    });
  }

  // --- The list ----------------------------------------------------------------------------------

  var listTimer = null;

  function refreshList() {
    var list = document.getElementById("dialog-list");
    if (!list) return;
    clearTimeout(listTimer);
    listTimer = setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("dialog-list");
          if (fresh) list.innerHTML = fresh.innerHTML;
        })
        .catch(function () {});
    }, 300);
  }

  // --- A dialog page -----------------------------------------------------------------------------

  var root = null;
  var dialogId = 0;
  var viewerId = 0;
  var lastId = 0;
  var live = false;
  var topic = "";
  var fetching = false;
  var fetchAgain = false;
  var unreadWaiting = false;
  var lastWhisper = 0;
  var typingTimers = {};

  function participants() {
    return Array.prototype.slice.call(root.querySelectorAll("[data-user-id][data-read]"));
  }

  function nameOf(userId) {
    var found = participants().filter(function (item) {
      return Number(item.getAttribute("data-user-id")) === userId;
    });
    return found.length ? found[0].getAttribute("data-username") : "";
  }

  function messageList() {
    return root.querySelector("[data-messages]");
  }

  function editUrl(messageId) {
    return "/dialogs/messages/" + messageId + "/edit/";
  }

  function attachmentItem(attachment) {
    var item = document.createElement("li");
    item.className = "attachments__item";
    var link = document.createElement("a");
    link.href = attachment.url;
    if (attachment.thumbnail_url) {
      var image = document.createElement("img");
      image.src = attachment.thumbnail_url;
      image.alt = attachment.original_name;
      image.loading = "lazy";
      link.appendChild(image);
    } else {
      link.setAttribute("download", "");
      link.textContent = attachment.original_name;
    }
    item.appendChild(link);
    return item;
  }

  // The day (YYYY-MM-DD) and the time of a moment, in UTC: the zone the server renders the page in.
  function dayOf(iso) {
    return new Date(iso).toISOString().slice(0, 10);
  }

  function timeOf(iso) {
    return new Date(iso).toLocaleTimeString(document.documentElement.lang || undefined, {
      hour: "2-digit",
      minute: "2-digit",
      timeZone: "UTC",
    });
  }

  function dayElement(day) {
    var item = document.createElement("li");
    item.className = "messages__day";
    item.setAttribute("data-day", day);
    var label = document.createElement("span");
    var today = new Date().toISOString().slice(0, 10);
    label.textContent =
      day === today
        ? root.getAttribute("data-label-today")
        : new Date(day + "T00:00:00Z").toLocaleDateString(document.documentElement.lang || undefined, {
            day: "numeric",
            month: "long",
            year: "numeric",
            timeZone: "UTC",
          });
    item.appendChild(label);
    return item;
  }

  function messageElement(message, continued) {
    var mine = message.author_id === viewerId;
    var item = document.createElement("li");
    item.className =
      "message" + (mine ? " message--mine" : " message--theirs message--new") + (continued ? " message--continued" : "");
    item.id = "message-" + message.id;
    item.setAttribute("data-message-id", String(message.id));
    item.setAttribute("data-author-id", String(message.author_id));
    item.setAttribute("data-day", dayOf(message.created_at));
    var bubble = document.createElement("div");
    bubble.className = "message__bubble";

    var header = document.createElement("header");
    header.className = "message__header";
    var author = document.createElement("strong");
    author.className = "message__author";
    author.textContent = mine
      ? root.getAttribute("data-label-you")
      : message.author || nameOf(message.author_id) || "—";
    var time = document.createElement("time");
    time.setAttribute("datetime", message.created_at);
    time.textContent = timeOf(message.created_at);
    var edited = document.createElement("span");
    edited.className = "message__edited";
    edited.textContent = root.getAttribute("data-label-edited");
    edited.hidden = !message.edited_at;
    header.appendChild(author);
    header.appendChild(document.createTextNode(" "));
    header.appendChild(time);
    header.appendChild(document.createTextNode(" "));
    header.appendChild(edited);
    bubble.appendChild(header);

    // Rendered and sanitized by the server when the message was written (forum.markup).
    var body = document.createElement("div");
    body.className = "message__body";
    body.innerHTML = message.html;
    bubble.appendChild(body);

    if (message.attachments && message.attachments.length) {
      var files = document.createElement("ul");
      files.className = "attachments";
      message.attachments.forEach(function (attachment) {
        files.appendChild(attachmentItem(attachment));
      });
      bubble.appendChild(files);
    }
    if (mine) {
      var actions = document.createElement("div");
      actions.className = "message__actions";
      var edit = document.createElement("a");
      edit.href = editUrl(message.id);
      edit.textContent = root.getAttribute("data-label-edit");
      actions.appendChild(edit);
      bubble.appendChild(actions);
    }
    item.appendChild(bubble);
    return item;
  }

  // What follows the message box: the box is sticky (drawn at the window's bottom while it scrolls by),
  // so where the conversation ends is told by the element after it, which is not.
  function endMark() {
    var box = root.querySelector(".dialog__composer");
    return box ? box.nextElementSibling : null;
  }

  // Whether the reader is at the end of the conversation (not scrolled up to older messages): then
  // what arrives is scrolled into view.
  function atEnd() {
    var mark = endMark();
    return mark !== null && mark.getBoundingClientRect().top <= window.innerHeight + 120;
  }

  function showEnd() {
    var mark = endMark();
    if (mark) {
      window.scrollTo(0, window.scrollY + mark.getBoundingClientRect().top - window.innerHeight);
      return;
    }
    var items = messageList().querySelectorAll("[data-message-id]");
    if (items.length) items[items.length - 1].scrollIntoView({ block: "end" });
  }

  function insert(message) {
    if (message.id <= 0 || document.getElementById("message-" + message.id)) return false;
    var following = atEnd();
    var list = messageList();
    var empty = list.querySelector("[data-empty]");
    if (empty) empty.remove();
    var next = null;
    var previous = null;
    Array.prototype.forEach.call(list.querySelectorAll("[data-message-id]"), function (other) {
      if (next) return;
      if (Number(other.getAttribute("data-message-id")) > message.id) next = other;
      else previous = other;
    });
    var day = dayOf(message.created_at);
    var sameDay = previous !== null && previous.getAttribute("data-day") === day;
    var continued = sameDay && Number(previous.getAttribute("data-author-id")) === message.author_id;
    var element = messageElement(message, continued);
    // Messages come in order of their ids, and so of their days: before the next one, or before the
    // separator that opens the next one's day when that is not this message's day.
    var anchor = next;
    var separator = next ? next.previousElementSibling : null;
    if (separator && separator.classList.contains("messages__day") && separator.getAttribute("data-day") !== day) {
      anchor = separator;
    }
    var opensDay = !sameDay && !(separator && anchor === next && separator.getAttribute("data-day") === day);
    if (opensDay) list.insertBefore(dayElement(day), anchor);
    list.insertBefore(element, anchor);
    if (message.id > lastId) lastId = message.id;
    if (following && !next) showEnd();
    return true;
  }

  function fromApi(item) {
    return {
      id: item.id,
      author_id: item.author_id,
      author: item.author,
      html: item.body_html,
      created_at: item.created_at,
      edited_at: item.edited_at,
      attachments: item.attachments,
    };
  }

  function fromEvent(payload) {
    return {
      id: payload.message_id,
      author_id: payload.author_id,
      author: payload.author,
      html: payload.html,
      created_at: payload.created_at,
      edited_at: payload.edited_at,
      attachments: payload.attachments,
    };
  }

  function updateSeenBy() {
    var line = root.querySelector("[data-seen-by]");
    var messages = messageList().querySelectorAll("[data-message-id]");
    if (!line || !messages.length) return;
    var last = messages[messages.length - 1];
    var lastMessageId = Number(last.getAttribute("data-message-id"));
    var authorId = Number(last.getAttribute("data-author-id"));
    var names = participants()
      .filter(function (item) {
        var userId = Number(item.getAttribute("data-user-id"));
        return (
          userId !== viewerId && userId !== authorId && Number(item.getAttribute("data-read")) >= lastMessageId
        );
      })
      .map(function (item) {
        return item.getAttribute("data-username");
      });
    line.textContent = root.getAttribute("data-label-seen-by") + " " + names.join(", ");
    line.hidden = names.length === 0;
  }

  function sendReadReceipt() {
    if (document.visibilityState !== "visible") {
      unreadWaiting = true;
      return;
    }
    unreadWaiting = false;
    if (!lastId) return;
    api("POST", "/api/v1/dialogs/" + dialogId + "/read", { message_id: lastId }).catch(function () {
      unreadWaiting = true;
    });
  }

  // Everything after the last message the page has, a page at a time, one fetch at a time.
  function catchUp() {
    if (!live) return;
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    var gotNew = false;
    function step() {
      return api("GET", "/api/v1/dialogs/" + dialogId + "/messages?limit=100&after=" + lastId).then(function (page) {
        page.messages.forEach(function (item) {
          if (insert(fromApi(item)) && item.author_id !== viewerId) gotNew = true;
        });
        if (page.has_after && page.messages.length) return step();
        return null;
      });
    }
    step()
      .catch(function () {})
      .then(function () {
        fetching = false;
        updateSeenBy();
        if (gotNew) sendReadReceipt();
        if (fetchAgain) {
          fetchAgain = false;
          catchUp();
        }
      });
  }

  function onMessageCreated(payload) {
    if (!live || payload.message_id <= lastId) return;
    if (payload.previous_message_id <= lastId && !fetching) {
      insert(fromEvent(payload));
      updateSeenBy();
      if (payload.author_id !== viewerId) sendReadReceipt();
    } else {
      catchUp();
    }
  }

  function onMessageEdited(payload) {
    var element = document.getElementById("message-" + payload.message_id);
    if (!element) return;
    element.querySelector(".message__body").innerHTML = payload.html;
    var edited = element.querySelector(".message__edited");
    if (edited) edited.hidden = false;
  }

  function onMessageDeleted(payload) {
    var element = document.getElementById("message-" + payload.message_id);
    if (element) {
      var before = element.previousElementSibling;
      var after = element.nextElementSibling;
      element.remove();
      // A day left without messages loses its separator.
      if (before && before.classList.contains("messages__day") && (!after || after.classList.contains("messages__day"))) {
        before.remove();
      }
    }
    updateSeenBy();
  }

  function onRead(payload) {
    participants().forEach(function (item) {
      if (Number(item.getAttribute("data-user-id")) === payload.user_id) {
        var known = Number(item.getAttribute("data-read"));
        item.setAttribute("data-read", String(Math.max(known, payload.message_id)));
      }
    });
    updateSeenBy();
  }

  function onParticipantsChanged(payload) {
    if (payload.removed_ids.indexOf(viewerId) !== -1) {
      window.location.assign("/dialogs/");
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : "";
      })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(".dialog__participants");
        var current = root.querySelector(".dialog__participants");
        if (fresh && current) current.innerHTML = fresh.innerHTML;
        updateSeenBy();
      })
      .catch(function () {});
  }

  function showTyping(senderId) {
    var line = root.querySelector("[data-typing]");
    var name = nameOf(senderId);
    if (!line || !name) return;
    clearTimeout(typingTimers[senderId]);
    typingTimers[senderId] = setTimeout(function () {
      delete typingTimers[senderId];
      renderTyping();
    }, TYPING_SHOWN_MS);
    renderTyping();
  }

  function renderTyping() {
    var line = root.querySelector("[data-typing]");
    var names = Object.keys(typingTimers).map(function (id) {
      return nameOf(Number(id));
    });
    line.textContent = names.join(", ") + " " + root.getAttribute("data-label-typing");
    line.hidden = names.length === 0;
  }

  function setUpDialog() {
    root = document.querySelector("[data-dialog]");
    if (!root) return;
    dialogId = Number(root.getAttribute("data-dialog-id"));
    viewerId = Number(root.getAttribute("data-viewer-id"));
    lastId = Number(root.getAttribute("data-last-message-id")) || 0;
    live = root.getAttribute("data-live") === "true";
    topic = "dialog:" + dialogId;
    if (window.forumRealtime) window.forumRealtime.subscribe(topic);

    var form = root.querySelector("[data-message-form]");
    var textarea = form ? form.querySelector("textarea") : null;
    if (textarea) {
      textarea.addEventListener("input", function () {
        var now = Date.now();
        if (now - lastWhisper < TYPING_EVERY_MS || !window.forumRealtime) return;
        if (window.forumRealtime.whisper(topic, "typing", {})) lastWhisper = now;
      });
    }
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && unreadWaiting) sendReadReceipt();
    });
    document.addEventListener("forum:realtime-status", function (event) {
      // After every (re)connection: fetch what arrived while the socket was down.
      if (event.detail && event.detail.state === "connected") catchUp();
    });
    if (window.forumRealtime && window.forumRealtime.state === "connected") catchUp();
    // A conversation is read from its end: the latest messages and the box, unless the address asks
    // for a message of its own (#message-<id>) or the page is a page of older ones. Once the page has
    // its final heights (the composer's toolbar, images), and only if the reader has not scrolled yet.
    if (!window.location.hash && live && messageList().querySelector("[data-message-id]")) {
      var toEnd = function () {
        if (window.scrollY === 0) showEnd();
      };
      if (document.readyState === "complete") window.setTimeout(toEnd, 0);
      else window.addEventListener("load", toEnd);
    }
  }

  // --- Frames ------------------------------------------------------------------------------------

  var handlers = {
    "dialog.message_created": onMessageCreated,
    "dialog.message_edited": onMessageEdited,
    "dialog.message_deleted": onMessageDeleted,
    "dialog.read": onRead,
    "dialog.participants_changed": onParticipantsChanged,
  };

  document.addEventListener("forum:event", function (event) {
    var frame = event.detail || {};
    if (frame.type === "whisper") {
      if (root && frame.topic === topic && frame.kind === "typing" && frame.sender_id !== viewerId) {
        showTyping(frame.sender_id);
      }
      return;
    }
    if (typeof frame.kind !== "string" || frame.kind.indexOf("dialog.") !== 0) return;
    var payload = frame.payload || {};
    setBadge(payload.unread_dialogs);
    refreshList();
    if (root && payload.dialog_id === dialogId && handlers[frame.kind]) {
      if (frame.kind === "dialog.message_created" && typingTimers[payload.author_id]) {
        clearTimeout(typingTimers[payload.author_id]);
        delete typingTimers[payload.author_id];
        renderTyping();
      }
      handlers[frame.kind](payload);
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpDialog);
  } else {
    setUpDialog();
  }
})();
