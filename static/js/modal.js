// Server-rendered modals. A fragment's <dialog open data-modal> shows as soon as it is swapped in; this script
// reopens it with showModal(), so the page behind turns inert, Tab stays inside, Esc closes it and focus moves
// in ([autofocus] first). On close the dialog leaves the page (a key shown once must not linger in the DOM) and an
// empty placeholder with its id takes its place for the next fragment; focus goes to the element named by
// data-return-focus (a CSS selector), else back to where it was. Loaded as a file: the CSP allows no inline scripts.
(function () {
  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

  function focusOn(target) {
    if (!target || !document.contains(target) || target === document.body) return false;
    if (!target.matches(FOCUSABLE)) target.setAttribute("tabindex", "-1");
    target.focus();
    return true;
  }

  function discard(dialog, opener) {
    if (!document.contains(dialog)) return;  // swapped out by the next fragment: nothing to clean or refocus
    var placeholder = document.createElement("div");
    placeholder.id = dialog.id;
    var selector = dialog.getAttribute("data-return-focus");
    dialog.replaceWith(placeholder);
    if (!(selector && focusOn(document.querySelector(selector)))) focusOn(opener);
  }

  function openModal(dialog) {
    if (dialog.hasAttribute("data-modal-ready") || typeof dialog.showModal !== "function") return;
    dialog.setAttribute("data-modal-ready", "");
    var opener = document.activeElement;
    dialog.close();  // it arrived open but not modal: showModal() throws on a dialog that is already open
    dialog.addEventListener("close", function () {
      if (!dialog.open) discard(dialog, opener);  // the close() just above fires this too, once it is modal again
    });
    dialog.showModal();
    var first = dialog.querySelector("[autofocus]");
    if (first) first.focus();
  }

  function openAll() {
    document.querySelectorAll("dialog[data-modal][open]").forEach(openModal);
  }
  // At the swap itself, not only after htmx's settle delay: an <dialog open> fragment shows the moment it is in
  // the page, and a key pressed in those 20 ms (Esc) must already meet a modal.
  document.addEventListener("htmx:afterSwap", openAll);
  document.addEventListener("htmx:afterSettle", openAll);
  document.addEventListener("DOMContentLoaded", openAll);
})();
