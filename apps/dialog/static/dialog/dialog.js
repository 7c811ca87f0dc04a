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
 *     whispers show "<name> is typing…" for a few seconds.
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

  function messageElement(message) {
    var item = document.createElement("li");
    item.className = "message" + (message.author_id === viewerId ? " message--mine" : " message--new");
    item.id = "message-" + message.id;
    item.setAttribute("data-message-id", String(message.id));
    item.setAttribute("data-author-id", String(message.author_id));

    var header = document.createElement("header");
    header.className = "message__header";
    var author = document.createElement("strong");
    author.textContent = message.author || nameOf(message.author_id) || "—";
    var time = document.createElement("time");
    time.setAttribute("datetime", message.created_at);
    time.textContent = new Date(message.created_at).toLocaleString();
    var edited = document.createElement("span");
    edited.className = "message__edited";
    edited.textContent = root.getAttribute("data-label-edited");
    edited.hidden = !message.edited_at;
    header.appendChild(author);
    header.appendChild(document.createTextNode(" "));
    header.appendChild(time);
    header.appendChild(document.createTextNode(" "));
    header.appendChild(edited);
    item.appendChild(header);

    // Rendered and sanitized by the server when the message was written (forum.markup).
    var body = document.createElement("div");
    body.className = "message__body";
    body.innerHTML = message.html;
    item.appendChild(body);

    if (message.attachments && message.attachments.length) {
      var files = document.createElement("ul");
      files.className = "attachments";
      message.attachments.forEach(function (attachment) {
        files.appendChild(attachmentItem(attachment));
      });
      item.appendChild(files);
    }
    if (message.author_id === viewerId) {
      var actions = document.createElement("p");
      actions.className = "message__actions";
      var edit = document.createElement("a");
      edit.href = editUrl(message.id);
      edit.textContent = root.getAttribute("data-label-edit");
      actions.appendChild(edit);
      item.appendChild(actions);
    }
    return item;
  }

  function insert(message) {
    if (message.id <= 0 || document.getElementById("message-" + message.id)) return false;
    var list = messageList();
    var empty = list.querySelector("[data-empty]");
    if (empty) empty.remove();
    var element = messageElement(message);
    var next = null;
    Array.prototype.forEach.call(list.querySelectorAll("[data-message-id]"), function (other) {
      if (!next && Number(other.getAttribute("data-message-id")) > message.id) next = other;
    });
    list.insertBefore(element, next);
    if (message.id > lastId) lastId = message.id;
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
    if (element) element.remove();
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
