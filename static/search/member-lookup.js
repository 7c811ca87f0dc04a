/*
 * Member autocomplete (GET /api/v1/members/lookup?q=): for @mentions in the composer's textarea and
 * for the usernames of a new dialog's recipients (and of members added to a group). No dependencies.
 *
 * Without this script the fields are plain fields: a mention is typed as @username, recipients as
 * usernames separated by commas; the server checks both. With it, typing offers matching members in
 * a list under the field (the ARIA combobox pattern: aria-expanded, aria-controls,
 * aria-activedescendant, a listbox of options): Arrow keys move, Enter or Tab picks, Escape closes;
 * a click picks too. The page's words come from the script tag's data-label-* attributes.
 *
 * Fields enhanced: every textarea of a composer ([data-composer] textarea) for @mentions, and every
 * input named "recipients" or "usernames" for lists of usernames.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var lookupUrl = script ? script.getAttribute("data-lookup-url") : "";
  var labelSuggestions = (script && script.getAttribute("data-label-suggestions")) || "Members";
  if (!lookupUrl) {
    return;
  }
  var counter = 0;

  // The word being typed at the caret: after an @ in a text, or the last item of a list.
  function mentionToken(field) {
    var before = field.value.slice(0, field.selectionStart);
    var match = /(^|[^\w.\-@])@([\w.\-]{1,40})$/.exec(before);
    return match ? { start: before.length - match[2].length, text: match[2] } : null;
  }

  function listToken(field) {
    var before = field.value.slice(0, field.selectionStart);
    var match = /@?([^\s,;@]{1,40})$/.exec(before);
    return match ? { start: before.length - match[1].length, text: match[1] } : null;
  }

  function enhance(field, kind) {
    var id = "member-lookup-" + (++counter);
    var list = document.createElement("ul");
    list.id = id;
    list.className = "member-lookup";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", labelSuggestions);
    list.hidden = true;
    field.insertAdjacentElement("afterend", list);
    if (field.tagName === "INPUT") {
      field.setAttribute("role", "combobox");
    }
    field.setAttribute("aria-autocomplete", "list");
    // aria-expanded belongs to a combobox: a textarea keeps its textbox role (a combobox cannot be
    // multi-line), which does not allow it; the list's visibility and aria-activedescendant serve.
    var isCombobox = field.tagName === "INPUT";
    function expanded(value) {
      if (isCombobox) {
        field.setAttribute("aria-expanded", value);
      }
    }
    expanded("false");
    field.setAttribute("aria-controls", id);
    field.setAttribute("autocomplete", "off");

    var token = null;
    var active = -1;
    var timer = 0;
    var pending = null;

    function options() {
      return list.querySelectorAll("[role=option]");
    }

    function close() {
      list.hidden = true;
      list.textContent = "";
      active = -1;
      expanded("false");
      field.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var all = options();
      if (!all.length) {
        return;
      }
      active = (index + all.length) % all.length;
      for (var i = 0; i < all.length; i++) {
        all[i].setAttribute("aria-selected", i === active ? "true" : "false");
      }
      field.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    }

    function pick(username) {
      if (!token) {
        return;
      }
      var value = field.value;
      var end = field.selectionStart;
      var inserted = kind === "mention" ? username + " " : username + ", ";
      var text = value.slice(0, token.start) + inserted + value.slice(end);
      field.value = text;
      var caret = token.start + inserted.length;
      field.setSelectionRange(caret, caret);
      // Drafts and the composer listen to "input".
      field.dispatchEvent(new Event("input", { bubbles: true }));
      close();
      field.focus();
    }

    function show(members) {
      list.textContent = "";
      active = -1;
      if (!members.length) {
        close();
        return;
      }
      members.forEach(function (member, index) {
        var option = document.createElement("li");
        option.id = id + "-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.className = "member-lookup__option";
        option.setAttribute("data-username", member.username);
        option.textContent = member.name ? member.username + " (" + member.name + ")" : member.username;
        option.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the field
          pick(member.username);
        });
        list.appendChild(option);
      });
      list.hidden = false;
      expanded("true");
    }

    function lookup() {
      token = kind === "mention" ? mentionToken(field) : listToken(field);
      if (!token) {
        close();
        return;
      }
      if (pending) {
        pending.abort();
      }
      pending = typeof AbortController === "function" ? new AbortController() : null;
      var url = lookupUrl + "?q=" + encodeURIComponent(token.text);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: pending ? pending.signal : undefined })
        .then(function (response) {
          return response.ok ? response.json() : { members: [] };
        })
        .then(function (data) {
          show(data.members || []);
        })
        .catch(function () {
          /* aborted or offline: the field stays a plain field */
        });
    }

    field.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookup, 150);
    });
    field.addEventListener("keydown", function (event) {
      if (list.hidden) {
        return;
      }
      var all = options();
      if (event.key === "ArrowDown") {
        event.preventDefault();
        highlight(active + 1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        highlight(active - 1);
      } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0 && all[active]) {
        event.preventDefault();
        pick(all[active].getAttribute("data-username") || "");
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    field.addEventListener("blur", function () {
      window.setTimeout(close, 100);
    });
  }

  function start() {
    document.querySelectorAll("[data-composer] textarea").forEach(function (field) {
      enhance(field, "mention");
    });
    document.querySelectorAll('input[name="recipients"], input[name="usernames"]').forEach(function (field) {
      enhance(field, "list");
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
