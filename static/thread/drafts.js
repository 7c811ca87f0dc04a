/*
 * Drafts kept on the server while a member writes a reply or a new thread (apps/thread, the API's
 * /api/v1/threads/<id>/draft and /api/v1/forums/<id>/draft). No dependencies.
 *
 * A form opts in with data-draft-url="<the draft's API address>". Its title and body are sent
 * (PUT, JSON, with the form's CSRF token) 1.5 s after the member stops typing, and at once when the
 * page is hidden or left (visibilitychange, pagehide) with fetch(..., {keepalive: true}), so that a
 * closed tab loses nothing. A blank form deletes the draft on the server. The element marked
 * data-draft-status says what happened, in the words its data-saved / data-discarded / data-failed
 * attributes give (the page translates them). The button marked data-draft-discard deletes the draft
 * and empties the form; without JavaScript it is a plain submit to the page's discard address.
 *
 * The page fills the form from the draft itself, so nothing here is needed to get it back; and
 * without this script the forms work as ever, only without drafts.
 */
(function () {
  "use strict";

  var DELAY_MS = 1500;

  function field(form, name) {
    var element = form.elements.namedItem(name);
    return element && typeof element.value === "string" ? element : null;
  }

  function attach(form) {
    var url = form.getAttribute("data-draft-url");
    var title = field(form, "title");
    var body = field(form, "body");
    var token = field(form, "csrfmiddlewaretoken");
    var status = form.querySelector("[data-draft-status]");
    var discard = form.querySelector("[data-draft-discard]");
    if (!url || !body) return;

    var timer = null;
    var inFlight = null; // the text being sent, if any
    var sent = current(); // what the server holds: the page was filled from it
    var submitted = false;

    function current() {
      return JSON.stringify(title ? { title: title.value, body: body.value } : { body: body.value });
    }

    function blank() {
      return !body.value.trim() && !(title && title.value.trim());
    }

    function say(kind) {
      if (status) status.textContent = status.getAttribute("data-" + kind) || "";
    }

    function showDiscard(shown) {
      if (discard) discard.hidden = !shown;
    }

    function request(method, payload, keepalive) {
      var headers = { Accept: "application/json", "X-CSRFToken": token ? token.value : "" };
      var options = { method: method, headers: headers, credentials: "same-origin", keepalive: !!keepalive };
      if (payload !== null) {
        headers["Content-Type"] = "application/json";
        options.body = payload;
      }
      return fetch(url, options);
    }

    function save(keepalive) {
      clearTimeout(timer);
      timer = null;
      var payload = current();
      if (submitted || payload === sent || payload === inFlight) return;
      if (inFlight !== null && !keepalive) {
        // One save at a time, so that an older text never lands after a newer one.
        timer = setTimeout(save, DELAY_MS);
        return;
      }
      var empty = blank();
      inFlight = payload;
      var sending;
      try {
        sending = request("PUT", payload, keepalive);
      } catch (error) {
        // A keepalive request over the browser's size limit is refused at once; the debounced
        // saves before it have kept all but the last few seconds.
        inFlight = null;
        return;
      }
      sending
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          sent = payload;
          say(empty ? "discarded" : "saved");
          showDiscard(!empty);
        })
        .catch(function () {
          say("failed");
        })
        .then(function () {
          inFlight = null;
        });
    }

    function changed() {
      if (submitted) return;
      clearTimeout(timer);
      timer = setTimeout(save, DELAY_MS);
    }

    form.addEventListener("input", function (event) {
      if (event.target === body || event.target === title) changed();
    });

    // Sending the post deletes its draft on the server: nothing may save it again after that.
    form.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter.hasAttribute("data-draft-discard")) return;
      submitted = true;
      clearTimeout(timer);
    });

    if (discard) {
      discard.addEventListener("click", function (event) {
        event.preventDefault();
        clearTimeout(timer);
        timer = null;
        request("DELETE", null, false)
          .then(function (response) {
            if (!response.ok && response.status !== 404) throw new Error(String(response.status));
            body.value = "";
            if (title) title.value = "";
            sent = current();
            say("discarded");
            showDiscard(false);
          })
          .catch(function () {
            say("failed");
          });
      });
    }

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") save(true);
    });
    window.addEventListener("pagehide", function () {
      save(true);
    });
  }

  function start() {
    var forms = document.querySelectorAll("form[data-draft-url]");
    for (var index = 0; index < forms.length; index += 1) attach(forms[index]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
