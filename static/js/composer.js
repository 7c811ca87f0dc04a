/*
 * The composer of posts and dialog messages (templates/partials/_composer.html). No dependencies.
 *
 * Without this script the composer is its form's plain textarea and file input. With it:
 * - a toolbar whose buttons put Markdown around the selection (bold, italic, link, code, quote,
 *   list), also on Ctrl/Cmd+B, I and K; every change goes through the browser's editing (undo works)
 *   and fires "input", so that static/thread/drafts.js saves it as if typed;
 * - Write and Preview tabs: Preview sends the text to the server (data-preview-url), which renders it
 *   exactly as the post or message would be stored, sanitized; the answer is inserted as is. Other
 *   fields of the form the rendering depends on (a new dialog's recipients, whose mentions are
 *   linked) are named in data-preview-fields and sent along, by name;
 * - uploads at once (data-upload-url): files dropped on the composer, images pasted into the text and
 *   files picked in the file input go up one request each, with a progress bar; each finished upload
 *   leaves a hidden input attachment_ids=<id> that the form sends, and a Remove button that takes the
 *   upload back on the server (data-discard-url, its final 0 replaced by the id). A form sent while
 *   uploads are still running is held back, said so in the status line, and sent when they are done
 *   (unless one failed: the member then decides). Without data-upload-url (a new dialog, with no
 *   dialog to upload into yet) files dropped or pasted join the form's file input and go with the form.
 *
 * Words shown come from the composer's data-label-* attributes (the page translates them).
 * Another script that writes into the textarea (a quote button) should fire "input" on it: the
 * composer then goes back to the Write tab.
 */
(function () {
  "use strict";

  function csrfToken(form) {
    var field = form ? form.elements.namedItem("csrfmiddlewaretoken") : null;
    return field && typeof field.value === "string" ? field.value : "";
  }

  // The message of the API's error shape, {"error": {"message": ...}}, or the fallback.
  function messageOf(data, fallback) {
    return data && data.error && typeof data.error.message === "string" ? data.error.message : fallback;
  }

  function parse(text) {
    try {
      return JSON.parse(text);
    } catch (error) {
      return null;
    }
  }

  // --- Editing the text ------------------------------------------------------------------------------

  // Replace [start, end) with text, then select [start + from, start + to). execCommand keeps the
  // change in the browser's undo history and fires "input" itself; where it is missing or refuses,
  // setRangeText does the same edit and "input" is fired by hand.
  function edit(textarea, start, end, text, from, to) {
    textarea.focus();
    textarea.setSelectionRange(start, end);
    var done = false;
    try {
      done = document.execCommand("insertText", false, text);
    } catch (error) {
      done = false;
    }
    if (!done || textarea.value.slice(start, start + text.length) !== text) {
      textarea.setRangeText(text, start, end, "end");
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
    textarea.setSelectionRange(start + from, start + to);
  }

  function wrapInline(textarea, marker) {
    var value = textarea.value;
    var start = textarea.selectionStart;
    var end = textarea.selectionEnd;
    // A double-click takes the space after a word too: the markers go around the word only.
    while (end > start && /\s/.test(value.charAt(end - 1))) end -= 1;
    while (start < end && /\s/.test(value.charAt(start))) start += 1;
    var selected = value.slice(start, end);
    var size = marker.length;
    if (
      selected.length >= 2 * size &&
      selected.slice(0, size) === marker &&
      selected.slice(-size) === marker
    ) {
      var inner = selected.slice(size, -size);
      edit(textarea, start, end, inner, 0, inner.length);
      return;
    }
    edit(textarea, start, end, marker + selected + marker, size, size + selected.length);
  }

  function code(textarea) {
    var value = textarea.value;
    var start = textarea.selectionStart;
    var end = textarea.selectionEnd;
    var selected = value.slice(start, end);
    if (selected.indexOf("\n") === -1) {
      wrapInline(textarea, "`");
      return;
    }
    // Several lines: a fenced block, on lines of its own.
    var before = start > 0 && value.charAt(start - 1) !== "\n" ? "\n" : "";
    var after = end < value.length && value.charAt(end) !== "\n" ? "\n" : "";
    var text = before + "```\n" + selected.replace(/\n$/, "") + "\n```" + after;
    var from = before.length + 4;
    edit(textarea, start, end, text, from, from + selected.replace(/\n$/, "").length);
  }

  function link(textarea) {
    var value = textarea.value;
    var start = textarea.selectionStart;
    var end = textarea.selectionEnd;
    var selected = value.slice(start, end).trim();
    if (/^https?:\/\/\S+$/.test(selected)) {
      // An address: it becomes the target, and the cursor waits for the words.
      edit(textarea, start, end, "[](" + selected + ")", 1, 1);
      return;
    }
    var text = "[" + selected + "](https://)";
    if (selected) edit(textarea, start, end, text, selected.length + 3, selected.length + 11);
    else edit(textarea, start, end, text, 1, 1);
  }

  // Each line the selection touches starts with prefix; if all of them did already, it is taken off.
  function prefixLines(textarea, prefix) {
    var value = textarea.value;
    var start = textarea.selectionStart;
    var end = textarea.selectionEnd;
    if (end > start && value.charAt(end - 1) === "\n") end -= 1;
    var lineStart = value.lastIndexOf("\n", start - 1) + 1;
    var lineEnd = value.indexOf("\n", end);
    if (lineEnd === -1) lineEnd = value.length;
    var lines = value.slice(lineStart, lineEnd).split("\n");
    var all = lines.every(function (line) {
      return line.indexOf(prefix) === 0;
    });
    var changed = lines
      .map(function (line) {
        return all ? line.slice(prefix.length) : prefix + line;
      })
      .join("\n");
    if (start === end && !all) {
      // No selection: the cursor stays where it was in its line, after the new prefix.
      var offset = start - lineStart + prefix.length;
      edit(textarea, lineStart, lineEnd, changed, offset, offset);
      return;
    }
    edit(textarea, lineStart, lineEnd, changed, 0, changed.length);
  }

  var ACTIONS = {
    bold: function (textarea) {
      wrapInline(textarea, "**");
    },
    italic: function (textarea) {
      wrapInline(textarea, "_");
    },
    link: link,
    code: code,
    quote: function (textarea) {
      prefixLines(textarea, "> ");
    },
    list: function (textarea) {
      prefixLines(textarea, "- ");
    },
  };

  var SHORTCUTS = { b: "bold", i: "italic", k: "link" };

  // --- One composer ----------------------------------------------------------------------------------

  function attach(root) {
    var form = root.closest("form");
    var textarea = root.querySelector("textarea");
    if (!form || !textarea) return;
    var token = csrfToken(form);

    function label(name) {
      return root.getAttribute("data-label-" + name) || "";
    }

    // Toolbar and shortcuts.
    var toolbar = root.querySelector("[data-composer-toolbar]");
    if (toolbar) {
      toolbar.hidden = false;
      toolbar.addEventListener("click", function (event) {
        var button = event.target.closest("[data-composer-action]");
        if (!button || !toolbar.contains(button)) return;
        var action = ACTIONS[button.getAttribute("data-composer-action")];
        if (action) action(textarea);
      });
      // One Tab stop for the whole toolbar, arrows between its buttons (the ARIA toolbar pattern).
      var tools = Array.prototype.slice.call(toolbar.querySelectorAll("button"));
      tools.forEach(function (tool, index) {
        tool.tabIndex = index === 0 ? 0 : -1;
      });
      toolbar.addEventListener("keydown", function (event) {
        var index = tools.indexOf(document.activeElement);
        if (index === -1) return;
        var next = null;
        if (event.key === "ArrowRight") next = (index + 1) % tools.length;
        else if (event.key === "ArrowLeft") next = (index - 1 + tools.length) % tools.length;
        else if (event.key === "Home") next = 0;
        else if (event.key === "End") next = tools.length - 1;
        if (next === null) return;
        event.preventDefault();
        tools[index].tabIndex = -1;
        tools[next].tabIndex = 0;
        tools[next].focus();
      });
    }
    textarea.addEventListener("keydown", function (event) {
      if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
      var name = SHORTCUTS[String(event.key).toLowerCase()];
      if (!name) return;
      event.preventDefault();
      ACTIONS[name](textarea);
    });

    setUpTabs(root, form, textarea, token, label);
    setUpUploads(root, form, textarea, token, label);
  }

  function setUpTabs(root, form, textarea, token, label) {
    var tablist = root.querySelector("[data-composer-tabs]");
    var previewUrl = root.getAttribute("data-preview-url");
    var previewFields = (root.getAttribute("data-preview-fields") || "").split(/\s+/).filter(Boolean);
    var write = root.querySelector('[data-composer-panel="write"]');
    var preview = root.querySelector('[data-composer-panel="preview"]');
    if (!tablist || !previewUrl || !write || !preview) return;
    var tabs = Array.prototype.slice.call(tablist.querySelectorAll("[data-composer-tab]"));
    tabs.forEach(function (tab) {
      var panel = document.getElementById(tab.getAttribute("aria-controls"));
      if (!panel) return;
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
    });
    preview.tabIndex = 0; // a panel without focusable content is reached by Tab, as the pattern asks
    tablist.hidden = false;

    var shown = "write";
    var asked = 0; // the latest preview asked for: older answers are dropped
    var rendered = { key: null, html: "" };

    function say(text, kind) {
      preview.textContent = "";
      var line = document.createElement("p");
      line.className = "composer__note" + (kind ? " composer__note--" + kind : "");
      line.textContent = text;
      preview.appendChild(line);
    }

    function render() {
      var text = textarea.value;
      if (!text.trim()) {
        say(label("empty"));
        return;
      }
      var payload = { body: text };
      previewFields.forEach(function (name) {
        var field = form.elements.namedItem(name);
        if (field && typeof field.value === "string") payload[name] = field.value;
      });
      var key = JSON.stringify(payload);
      if (key === rendered.key) {
        preview.innerHTML = rendered.html;
        return;
      }
      var mine = (asked += 1);
      preview.setAttribute("aria-busy", "true");
      say(label("loading"));
      fetch(previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
        body: key,
      })
        .then(function (response) {
          return response.text().then(function (answer) {
            var data = parse(answer);
            if (!response.ok || !data || typeof data.html !== "string") {
              throw new Error(messageOf(data, label("failed")));
            }
            return data.html;
          });
        })
        .then(function (html) {
          if (mine !== asked) return;
          rendered = { key: key, html: html };
          // Rendered and sanitized by the server (forum.markup), as the page shows stored posts.
          if (shown === "preview") preview.innerHTML = html;
        })
        .catch(function (error) {
          if (mine !== asked) return;
          if (shown === "preview") say(error.message || label("failed"), "error");
        })
        .then(function () {
          if (mine === asked) preview.removeAttribute("aria-busy");
        });
    }

    function show(name, focusTab) {
      shown = name;
      tabs.forEach(function (tab) {
        var on = tab.getAttribute("data-composer-tab") === name;
        tab.setAttribute("aria-selected", on ? "true" : "false");
        tab.tabIndex = on ? 0 : -1;
        if (on && focusTab) tab.focus();
      });
      write.hidden = name !== "write";
      preview.hidden = name !== "preview";
      root.classList.toggle("composer--preview", name === "preview");
      if (name === "preview") render();
    }

    tablist.addEventListener("click", function (event) {
      var tab = event.target.closest("[data-composer-tab]");
      if (!tab) return;
      var name = tab.getAttribute("data-composer-tab");
      show(name, false);
      if (name === "write") textarea.focus();
    });
    tablist.addEventListener("keydown", function (event) {
      var index = tabs.indexOf(document.activeElement);
      if (index === -1) return;
      var next = null;
      if (event.key === "ArrowRight") next = (index + 1) % tabs.length;
      else if (event.key === "ArrowLeft") next = (index - 1 + tabs.length) % tabs.length;
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = tabs.length - 1;
      if (next === null) return;
      event.preventDefault();
      show(tabs[next].getAttribute("data-composer-tab"), true);
    });
    // Text put in by another script (a quote button) is shown where it can be read on.
    textarea.addEventListener("input", function () {
      if (shown !== "write") show("write", false);
    });
  }

  // --- Uploads -----------------------------------------------------------------------------------------

  // Files dropped on the composer, and a picture pasted into its text (a screenshot), go to handle; a
  // paste that also carries text is only text.
  function takeDroppedFiles(root, textarea, handle) {
    function carriesFiles(event) {
      var types = event.dataTransfer ? event.dataTransfer.types : null;
      return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
    }

    root.addEventListener("dragenter", function (event) {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      root.classList.add("composer--drop");
    });
    root.addEventListener("dragover", function (event) {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      root.classList.add("composer--drop");
    });
    root.addEventListener("dragleave", function (event) {
      if (!event.relatedTarget || !root.contains(event.relatedTarget)) root.classList.remove("composer--drop");
    });
    root.addEventListener("drop", function (event) {
      root.classList.remove("composer--drop");
      if (!event.dataTransfer || !event.dataTransfer.files || !event.dataTransfer.files.length) return;
      event.preventDefault();
      handle(event.dataTransfer.files);
    });

    textarea.addEventListener("paste", function (event) {
      var data = event.clipboardData;
      if (!data || !data.files || !data.files.length) return;
      if (Array.prototype.indexOf.call(data.types || [], "text/plain") !== -1) return;
      event.preventDefault();
      handle(data.files);
    });
  }

  // No upload address (a new dialog: nothing to upload into yet): the files dropped or pasted join
  // those picked in the form's file input and travel with the form when it is sent.
  function filesWithTheForm(root, textarea, input) {
    if (typeof DataTransfer !== "function") return;
    var hint = root.querySelector("[data-composer-drop-hint]");
    if (hint) hint.hidden = false;
    takeDroppedFiles(root, textarea, function (files) {
      var all = new DataTransfer();
      var index;
      for (index = 0; index < (input.files ? input.files.length : 0); index += 1) all.items.add(input.files[index]);
      for (index = 0; index < files.length; index += 1) all.items.add(files[index]);
      input.files = all.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  function setUpUploads(root, form, textarea, token, label) {
    var uploadUrl = root.getAttribute("data-upload-url");
    var discardUrl = root.getAttribute("data-discard-url") || "";
    var list = root.querySelector("[data-composer-uploads]");
    var status = root.querySelector("[data-composer-status]");
    var input = root.querySelector('input[type="file"]');
    if (!list) return;
    if (!uploadUrl) {
      if (input) filesWithTheForm(root, textarea, input);
      return;
    }
    var hint = root.querySelector("[data-composer-drop-hint]");
    if (hint) hint.hidden = false;
    var running = 0;
    var held = null; // a send held back while uploads run: {submitter}

    function say(text) {
      if (status) status.textContent = text;
    }

    function discard(id) {
      if (!discardUrl || !id) return;
      fetch(discardUrl.replace(/0$/, String(id)), {
        method: "DELETE",
        credentials: "same-origin",
        keepalive: true,
        headers: { Accept: "application/json", "X-CSRFToken": token },
      }).catch(function () {
        // Left waiting, it is deleted with the other uploads no post took (docs/uploads.md).
      });
    }

    function upload(file) {
      var name = file.name || "image";
      var item = document.createElement("li");
      item.className = "composer__upload composer__upload--running";
      var preview = document.createElement("span");
      preview.className = "composer__upload-thumb";
      preview.setAttribute("aria-hidden", "true");
      var title = document.createElement("span");
      title.className = "composer__upload-name";
      title.textContent = name;
      var progress = document.createElement("progress");
      progress.className = "composer__progress";
      progress.max = 100;
      progress.value = 0;
      progress.setAttribute("aria-label", label("uploading") + " " + name);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "button button--quiet composer__remove";
      remove.textContent = label("remove");
      remove.setAttribute("aria-label", label("remove") + " " + name);
      item.appendChild(preview);
      item.appendChild(title);
      item.appendChild(progress);
      item.appendChild(remove);
      list.appendChild(item);

      var request = new XMLHttpRequest();
      var finished = false;
      var uploadedId = null;
      running += 1;

      function finish() {
        if (finished) return;
        finished = true;
        running -= 1;
        item.classList.remove("composer__upload--running");
        if (running === 0) release();
      }

      function failed(message) {
        finish();
        progress.remove();
        item.classList.add("composer__upload--failed");
        var error = document.createElement("span");
        error.className = "composer__upload-error";
        error.setAttribute("role", "alert");
        error.textContent = message;
        item.insertBefore(error, remove);
      }

      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable && event.total > 0) {
          progress.value = Math.min(99, Math.round((event.loaded / event.total) * 100));
        }
      });
      request.addEventListener("load", function () {
        var data = parse(request.responseText);
        if (request.status !== 201 || !data || typeof data.id !== "number") {
          failed(messageOf(data, label("upload-failed")));
          return;
        }
        uploadedId = data.id;
        progress.value = 100;
        progress.remove();
        item.setAttribute("data-attachment-id", String(data.id));
        title.textContent = data.original_name || name;
        remove.setAttribute("aria-label", label("remove") + " " + title.textContent);
        if (data.thumbnail_url) {
          var image = document.createElement("img");
          image.src = data.thumbnail_url;
          image.alt = "";
          preview.appendChild(image);
        }
        var hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = "attachment_ids";
        hidden.value = String(data.id);
        item.appendChild(hidden);
        finish(); // last: a send held back goes now, with this id in the form
      });
      request.addEventListener("error", function () {
        failed(label("upload-failed"));
      });
      request.addEventListener("abort", finish);

      remove.addEventListener("click", function () {
        if (!finished) request.abort();
        discard(uploadedId);
        var next = item.nextElementSibling || item.previousElementSibling;
        item.remove();
        var focusable = next ? next.querySelector("button, input") : null;
        (focusable || textarea).focus();
      });

      var data = new FormData();
      data.append("file", file, name);
      request.open("POST", uploadUrl);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-CSRFToken", token);
      request.send(data);
    }

    // The last upload is done: a send held back goes now, unless an upload failed (the member then
    // sees which, removes or retries it, and sends again).
    function release() {
      if (!held) {
        say("");
        return;
      }
      var submitter = held.submitter;
      held = null;
      if (list.querySelector(".composer__upload--failed")) {
        say(label("failed-wait"));
        return;
      }
      say("");
      if (typeof form.requestSubmit === "function") form.requestSubmit(submitter || undefined);
      else form.submit();
    }

    function uploadAll(files) {
      for (var index = 0; index < files.length; index += 1) upload(files[index]);
    }

    takeDroppedFiles(root, textarea, uploadAll);

    // Files picked in the input go up at once too, so that the form sends ids and not the files again.
    if (input) {
      input.addEventListener("change", function () {
        if (!input.files || !input.files.length) return;
        uploadAll(input.files);
        input.value = "";
      });
    }

    // Sent while uploads run, the post would go without them: held back, and sent when they are done.
    // Caught on the document before the form's own listeners (drafts.js) take it for sent.
    document.addEventListener(
      "submit",
      function (event) {
        if (event.target !== form || running === 0) return;
        if (event.submitter && event.submitter.hasAttribute("data-draft-discard")) return;
        event.preventDefault();
        event.stopPropagation();
        held = { submitter: event.submitter || null };
        say(label("wait"));
      },
      true
    );
  }

  function start() {
    var composers = document.querySelectorAll("[data-composer]");
    for (var index = 0; index < composers.length; index += 1) attach(composers[index]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
