/*
 * The posts of a thread page (templates/thread/_post.jinja): Quote and Reply into the reply form on
 * the page, and the small menus of a post. No dependencies; listeners sit on the document, so posts
 * that arrive live (static/thread/live.js) work the same.
 *
 *   Quote  (a[data-quote]) puts "[quote=post:N] ... [/quote]" at the end of the reply form's text:
 *          the words selected inside that post's body when there are some, else the whole post, as
 *          GET /posts/<id>/quote/ gives it (its source, without the quotes it holds; the address is
 *          the list's data-quote-url, the one of post 0).
 *   Reply  (a[data-reply-to]) adds "@name " for the post's author, unless the text names them already.
 *
 * Both then scroll to the text, focus it with the cursor at the end, and send an "input" event, so
 * that the drafts (static/thread/drafts.js) and the composer see the change. The reply form is found
 * by its address (form[action$="/reply/"]) and its textarea by name (body). Without this file, or on
 * a page without the form, the links lead to the reply page (?quote=N fills it there) and to the form.
 *
 * An open panel of a post (who reacted, the confirmation of Delete) closes with Escape, giving the
 * focus back to its button, and when another place of the page is clicked.
 */
(function () {
  "use strict";

  var PANELS = ".post-action-menu[open], .reactors[open]";

  function composer() {
    var form = document.querySelector('form[action$="/reply/"]');
    var body = form && form.querySelector('textarea[name="body"]');
    if (!body) return null;
    // The composer's Preview hides the text: back to writing first.
    var write = form.querySelector('[data-composer-tab="write"][aria-selected="false"]');
    if (write) write.click();
    return body;
  }

  function show(textarea) {
    var smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    textarea.scrollIntoView({ block: "center", behavior: smooth ? "smooth" : "auto" });
    textarea.focus({ preventScroll: true });
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  function put(textarea, text, separator) {
    var before = textarea.value.replace(/\s+$/, "");
    textarea.value = before ? before + separator + text : text;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    show(textarea);
  }

  function selectedIn(post) {
    var selection = window.getSelection();
    var body = post && post.querySelector(".post__body");
    if (!body || !selection || selection.isCollapsed || !selection.rangeCount) return "";
    if (!body.contains(selection.getRangeAt(0).commonAncestorContainer)) return "";
    return selection.toString().trim();
  }

  function quoteOf(postId, text) {
    return "[quote=post:" + postId + "]\n" + text + "\n[/quote]\n";
  }

  // Pressing a link may clear the selection before its click arrives: the words are taken as the
  // pointer goes down on Quote.
  var selectedAtPress = null;
  document.addEventListener(
    "pointerdown",
    function (event) {
      var link = event.target.closest ? event.target.closest("a[data-quote]") : null;
      selectedAtPress = link ? selectedIn(link.closest("li.post")) : null;
    },
    true
  );

  function quote(link) {
    var textarea = composer();
    if (!textarea) return false;
    var post = link.closest("li.post");
    var postId = post.getAttribute("data-post-id");
    var selected = selectedAtPress || selectedIn(post);
    selectedAtPress = null;
    if (selected) {
      put(textarea, quoteOf(postId, selected), "\n\n");
      return true;
    }
    var list = link.closest("ol[data-quote-url]");
    if (!list) return false;
    link.setAttribute("aria-busy", "true");
    fetch(list.getAttribute("data-quote-url").replace("/0/", "/" + postId + "/"), {
      credentials: "same-origin",
      headers: { Accept: "text/plain" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("quote " + response.status);
        return response.text();
      })
      .then(function (text) {
        put(textarea, text, "\n\n");
      })
      .catch(function () {
        window.location.href = link.href; // the reply page quotes it, or says why not
      })
      .then(function () {
        link.removeAttribute("aria-busy");
      });
    return true;
  }

  function reply(link) {
    var textarea = composer();
    if (!textarea) return false;
    var mention = "@" + link.getAttribute("data-reply-to");
    var named = new RegExp("(^|\\s)" + mention.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "(?![\\w.-])");
    if (mention === "@" || named.test(textarea.value)) {
      show(textarea);
    } else {
      put(textarea, mention + " ", "\n\n");
    }
    return true;
  }

  document.addEventListener("click", function (event) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var target = event.target.closest ? event.target : null;
    if (!target) return;
    var link = target.closest("a[data-quote]");
    if (link && quote(link)) {
      event.preventDefault();
      return;
    }
    link = target.closest("a[data-reply-to]");
    if (link && reply(link)) {
      event.preventDefault();
      return;
    }
    document.querySelectorAll(PANELS).forEach(function (panel) {
      if (!panel.contains(target)) panel.open = false;
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var panel = event.target.closest ? event.target.closest(PANELS) : null;
    if (!panel) return;
    panel.open = false;
    panel.querySelector("summary").focus();
  });
})();
