/*
 * A thread page, live: follows the thread's topic on the gateway (static/js/realtime.js, loaded
 * before this file) and applies what it pushes. The pushes carry ids and counts only
 * (apps/thread/live.py); the HTML of a post comes from /posts/<id>/fragment/, rendered for this
 * viewer with the page's own permission checks.
 *
 *   post.created   {thread_id, post_id, position}  a new reply, or one approved or restored by
 *                  staff: among this page's posts, or on the last page with room: fetched and
 *                  inserted in order; before this page's posts: nothing; after: "New replies: N  Show"
 *   post.edited    {thread_id, post_id}            the post on this page is fetched again
 *   post.deleted   {thread_id, post_id}            the post leaves this page
 *   post.reactions {thread_id, post_id, counts}    the counts change in place
 *
 * A post already on the page (the author's own reply, after the form's redirect) is never added
 * twice. A page shows each author's signature once, under their first post on it; a post fetched
 * alone brings its author's, which goes when an earlier post on the page shows it already. After a reconnect the page fetches itself again and takes its posts from there, since what
 * was pushed meanwhile is lost. <ol data-live-subscribed> marks a page that follows its thread.
 * The page works the same without this file; it only saves reloads.
 */
(function () {
  "use strict";

  var list = document.querySelector("ol[data-live-thread]");
  if (!list || !window.forumRealtime) return;

  var threadId = list.getAttribute("data-live-thread");
  var topic = "thread:" + threadId;
  var lastPage = list.getAttribute("data-live-last-page") === "true";
  var perPage = parseInt(list.getAttribute("data-live-per-page"), 10) || 20;
  var fragmentUrl = list.getAttribute("data-live-fragment-url");
  var postUrl = list.getAttribute("data-live-post-url");
  // The thread's last position when the page was rendered: replies after it are new.
  var loadedLastPosition = parseInt(list.getAttribute("data-live-last-position"), 10) || 0;
  var notice = document.querySelector("[data-live-notice]");
  var fetching = new Set();
  var again = new Set();
  var unseen = new Set(); // positions of new replies this page does not show
  var firstUnseen = null;

  function urlFor(template, postId) {
    // The templates are the URLs of post 0: "/posts/0/fragment/".
    return template.replace("/0/", "/" + postId + "/");
  }

  function postElement(postId) {
    return document.getElementById("post-" + postId);
  }

  function fetchPost(postId) {
    return fetch(urlFor(fragmentUrl, postId), {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    }).then(function (response) {
      if (response.status === 404) return null;
      if (!response.ok) throw new Error("fragment " + response.status);
      return response.text().then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html.trim();
        return template.content.querySelector("li.post");
      });
    });
  }

  function activate(element) {
    // htmx enhances the reaction form of a post that arrived after the page was processed.
    if (window.htmx && typeof window.htmx.process === "function") window.htmx.process(element);
    signaturesOncePerAuthor();
  }

  function signaturesOncePerAuthor() {
    var shown = {};
    list.querySelectorAll("li.post[data-author-id]").forEach(function (item) {
      var signature = item.querySelector(".signature");
      if (!signature) return;
      var author = item.getAttribute("data-author-id");
      if (shown[author]) {
        signature.remove();
      } else {
        shown[author] = true;
      }
    });
  }

  function insertInOrder(element) {
    // A reply this page listed as awaiting approval, approved since: it moves into the thread.
    var held = document.getElementById(element.id);
    if (held && !list.contains(held)) held.remove();
    var position = parseInt(element.getAttribute("data-position"), 10);
    var posts = list.querySelectorAll("li.post[data-position]");
    for (var i = 0; i < posts.length; i++) {
      if (parseInt(posts[i].getAttribute("data-position"), 10) > position) {
        list.insertBefore(element, posts[i]);
        return;
      }
    }
    list.appendChild(element);
  }

  function updateNotice() {
    var count = notice.querySelector("[data-live-count]");
    if (count) count.textContent = String(unseen.size);
    notice.hidden = unseen.size === 0;
  }

  function showNotice(postId, position) {
    // Counted by position: the same reply announced twice (a push, then a resync) counts once.
    if (!notice || unseen.has(position)) return;
    unseen.add(position);
    if (firstUnseen === null || position < firstUnseen) {
      firstUnseen = position;
      var show = notice.querySelector("[data-live-show]");
      if (show) show.setAttribute("href", urlFor(postUrl, postId));
    }
    updateNotice();
  }

  function announceMissed(lastPosition, total) {
    // After a resync: the replies written since the page was loaded that it does not show stand
    // after it. Their ids are unknown here, so "Show" leads to the thread's last page.
    if (!notice) return;
    var shown = {};
    list.querySelectorAll("li.post[data-position]").forEach(function (item) {
      shown[item.getAttribute("data-position")] = true;
    });
    var earliest = null;
    for (var position = loadedLastPosition + 1; position <= lastPosition; position++) {
      if (shown[position] || unseen.has(position)) continue;
      unseen.add(position);
      if (earliest === null) earliest = position;
    }
    if (earliest === null) return;
    if (firstUnseen === null || earliest < firstUnseen) {
      firstUnseen = earliest;
      var show = notice.querySelector("[data-live-show]");
      var lastPageNumber = Math.max(1, Math.ceil(total / perPage));
      if (show) show.setAttribute("href", window.location.pathname + "?page=" + lastPageNumber);
    }
    updateNotice();
  }

  function hasRoom() {
    return lastPage && list.querySelectorAll("li.post").length < perPage;
  }

  function shownPositions() {
    var positions = [];
    list.querySelectorAll("li.post[data-position]").forEach(function (item) {
      positions.push(parseInt(item.getAttribute("data-position"), 10));
    });
    return positions;
  }

  function created(payload) {
    var postId = payload.post_id;
    if (postElement(postId) || fetching.has(postId)) return;
    // A reply restored or approved among the posts this page shows takes its place here; one before
    // them belongs to an earlier page and is no new reply for this one.
    var positions = shownPositions();
    var first = positions.length ? Math.min.apply(null, positions) : null;
    var last = positions.length ? Math.max.apply(null, positions) : null;
    if (first !== null && payload.position < first) return;
    var within = last !== null && payload.position < last;
    if (!within && !hasRoom()) {
      showNotice(postId, payload.position);
      return;
    }
    fetching.add(postId);
    fetchPost(postId)
      .then(function (element) {
        if (element && !postElement(postId)) {
          insertInOrder(element);
          activate(element);
        }
      })
      .catch(function () {
        showNotice(postId, payload.position);
      })
      .then(function () {
        fetching.delete(postId);
      });
  }

  function replace(postId) {
    if (!postElement(postId)) return;
    if (fetching.has(postId)) {
      again.add(postId); // changed while being fetched: fetch once more after
      return;
    }
    fetching.add(postId);
    fetchPost(postId)
      .then(function (element) {
        var current = postElement(postId);
        if (!current) return;
        if (!element) {
          current.remove();
          return;
        }
        current.replaceWith(element);
        activate(element);
      })
      .catch(function () {
        // Live delivery is best effort: the page shows the stored state on the next load.
      })
      .then(function () {
        fetching.delete(postId);
        if (again.delete(postId)) replace(postId);
      });
  }

  function deleted(postId) {
    var element = postElement(postId);
    if (element) element.remove();
  }

  function setCount(holder, count) {
    var span = holder.querySelector(".reactions__count");
    if (count > 0) {
      if (!span) {
        span = document.createElement("span");
        span.className = "reactions__count";
        holder.appendChild(document.createTextNode(" "));
        holder.appendChild(span);
      }
      span.textContent = String(count);
    } else if (span) {
      // The label and the space before the number share one text node: trim, never remove it.
      var before = span.previousSibling;
      if (before && before.nodeType === 3) before.data = before.data.replace(/\s+$/, "");
      span.remove();
    }
  }

  function reactions(postId, counts) {
    var element = postElement(postId);
    if (!element) return;
    var holder = element.querySelector(".reactions");
    var kinds = Object.keys(counts || {}).filter(function (kind) {
      return counts[kind] > 0;
    });
    // "Who reacted" is there once somebody has: the first reaction brings the post again with it.
    var reactors = element.querySelector(".reactors");
    if (reactors) reactors.hidden = !kinds.length;
    if (kinds.length && !reactors) {
      replace(postId);
      return;
    }
    if (holder && holder.tagName === "FORM") {
      // The member's own reaction buttons: every kind is there; only the numbers change.
      holder.querySelectorAll("button[name=kind]").forEach(function (button) {
        var count = counts[button.value] || 0;
        setCount(button, count);
        button.classList.toggle("reactions__button--empty", count === 0);
      });
      return;
    }
    // Counts shown without buttons list only the kinds that have some: a kind new to this post
    // needs its label, which only the server has.
    var shown = holder ? holder.querySelectorAll("[data-kind]") : [];
    var known = {};
    shown.forEach(function (item) {
      known[item.getAttribute("data-kind")] = item;
    });
    var missing = kinds.some(function (kind) {
      return !known[kind];
    });
    if (missing) {
      replace(postId);
      return;
    }
    shown.forEach(function (item) {
      var count = counts[item.getAttribute("data-kind")] || 0;
      if (count > 0) {
        setCount(item, count);
      } else {
        item.remove();
      }
    });
    if (holder && !kinds.length) holder.remove();
  }

  // After the socket comes back, whatever was pushed while it was away is lost: the page fetches
  // itself again and takes its posts from there. Frames that arrive meanwhile wait, then apply on top.
  var syncing = null;

  function resync() {
    if (syncing) return;
    syncing = [];
    fetch(window.location.pathname + window.location.search, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html) applyPage(new DOMParser().parseFromString(html, "text/html"));
      })
      .catch(function () {
        // Best effort, as every live change: a reload shows the stored state.
      })
      .then(function () {
        var waiting = syncing || [];
        syncing = null;
        waiting.forEach(apply);
      });
  }

  function applyPage(doc) {
    var fresh = doc.querySelector("ol[data-live-thread]");
    if (!fresh || fresh.getAttribute("data-live-thread") !== threadId) return;
    var kept = {};
    fresh.querySelectorAll("li.post[data-post-id]").forEach(function (item) {
      var postId = item.getAttribute("data-post-id");
      kept[postId] = true;
      var element = document.importNode(item, true);
      var current = postElement(postId);
      if (current) {
        current.replaceWith(element);
      } else {
        insertInOrder(element);
      }
      activate(element);
    });
    list.querySelectorAll("li.post[data-post-id]").forEach(function (item) {
      if (!kept[item.getAttribute("data-post-id")]) item.remove();
    });
    lastPage = fresh.getAttribute("data-live-last-page") === "true";
    announceMissed(
      parseInt(fresh.getAttribute("data-live-last-position"), 10) || 0,
      parseInt(fresh.getAttribute("data-live-total"), 10) || 0
    );
  }

  function apply(frame) {
    var payload = frame.payload;
    switch (frame.kind) {
      case "post.created":
        created(payload);
        break;
      case "post.edited":
        replace(payload.post_id);
        break;
      case "post.deleted":
        deleted(payload.post_id);
        break;
      case "post.reactions":
        reactions(payload.post_id, payload.counts);
        break;
    }
  }

  document.addEventListener("forum:event", function (event) {
    var frame = event.detail || {};
    if (frame.type !== "event" || frame.topic !== topic || !frame.payload) return;
    if (syncing) {
      syncing.push(frame);
    } else {
      apply(frame);
    }
  });

  // <ol data-live-subscribed> while the page follows its thread (for styles, and for tests to wait on).
  var followedBefore = false;
  document.addEventListener("forum:subscribed", function (event) {
    if (!event.detail || event.detail.topic !== topic) return;
    list.setAttribute("data-live-subscribed", "");
    if (followedBefore) resync(); // subscribed again after a reconnect
    followedBefore = true;
  });
  document.addEventListener("forum:realtime-status", function (event) {
    if (event.detail && event.detail.state !== "connected") list.removeAttribute("data-live-subscribed");
  });

  window.forumRealtime.subscribe(topic);
})();
