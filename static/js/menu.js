/*
 * Menus of the page ([data-menu], a <details>: the member menu in the header). They open and close
 * without JavaScript (the <summary> toggles them); this closes an open one as a menu is expected to
 * close: on Escape (focus goes back to its <summary>), on a click or a focus outside it, and when
 * another menu opens.
 */
(function () {
  "use strict";

  function menus() {
    return Array.prototype.slice.call(document.querySelectorAll("details[data-menu]"));
  }

  function closeAll(except) {
    menus().forEach(function (menu) {
      if (menu !== except && menu.open) menu.open = false;
    });
  }

  document.addEventListener("click", function (event) {
    var inside = event.target.closest ? event.target.closest("details[data-menu]") : null;
    closeAll(inside);
  });

  document.addEventListener("focusin", function (event) {
    var inside = event.target.closest ? event.target.closest("details[data-menu]") : null;
    closeAll(inside);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    menus().forEach(function (menu) {
      if (!menu.open) return;
      menu.open = false;
      var summary = menu.querySelector("summary");
      if (summary && menu.contains(document.activeElement)) summary.focus();
    });
  });
})();
