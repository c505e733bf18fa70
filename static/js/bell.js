// The nav's bell (templates/notifications/_badge.html): its preview loads each time it opens, and its own swaps
// (the count's poll, the list, "Mark all read") neither close it nor the other menus. No inline scripts (CSP).
(function () {
  document.querySelectorAll("details[data-bell]").forEach(function (bell) {
    var list = bell.querySelector("[data-bell-list]");
    bell.addEventListener("toggle", function () {
      if (bell.open && list && window.htmx) window.htmx.trigger(list, "bell-open");
    });
    // portal.js closes every open dropdown after a swap (so menus don't float over new content) and moves focus
    // into a swapped region when none is focused; a swap inside the bell is the bell updating itself, neither.
    ["htmx:afterSwap", "htmx:afterSettle"].forEach(function (name) {
      bell.addEventListener(name, function (evt) { evt.stopPropagation(); });
    });
    // A click elsewhere on the page closes it, as a menu does.
    document.addEventListener("click", function (evt) {
      if (bell.open && !bell.contains(evt.target)) bell.open = false;
    });
  });
})();
