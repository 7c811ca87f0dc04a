/*
 * The dialog page's message box and the Enter key, as the member chose in their dialog settings
 * (`enter_sends`, on the account settings page and at GET/PATCH /api/v1/dialogs/settings), given here
 * as data-enter-sends on the box's section:
 *   - on: Enter sends, Shift+Enter starts a new line;
 *   - off (the default): Enter starts a new line;
 *   - either way Ctrl+Enter (Cmd+Enter on a Mac) sends.
 * While a word is being composed with an input method (Chinese, Japanese…) Enter belongs to it. The
 * hint under the box, hidden without this script (the keys would not do what it says), is shown.
 */
(function () {
  "use strict";

  function setUp() {
    var section = document.querySelector(".dialog__composer[data-enter-sends]");
    if (!section) return;
    var form = section.querySelector("form[data-message-form]");
    var box = form ? form.querySelector("textarea[name=body]") : null;
    if (!box) return;
    var enterSends = section.getAttribute("data-enter-sends") === "true";
    var hint = section.querySelector("[data-send-hint]");
    if (hint) {
      hint.hidden = false;
      var described = (box.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      if (described.indexOf(hint.id) === -1) described.push(hint.id);
      box.setAttribute("aria-describedby", described.join(" "));
    }
    box.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.isComposing || event.altKey) return;
      var withModifier = event.ctrlKey || event.metaKey;
      if (!withModifier && (!enterSends || event.shiftKey)) return;
      event.preventDefault();
      if (!box.value.trim()) return;
      // requestSubmit runs the form's submit handlers (the composer's upload check among them).
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else form.submit();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
