// Small behaviours the portal needs beyond htmx. No inline scripts: the CSP allows only 'self' + nonce.
document.addEventListener("htmx:afterSwap", function () {
  // Close open dropdown menus after a swap so they don't float over new content.
  document.querySelectorAll("details.dropdown[open]").forEach(function (d) { d.removeAttribute("open"); });
});
document.addEventListener("htmx:responseError", function (evt) {
  var box = document.getElementById("flashes");
  if (!box) return;
  var div = document.createElement("div");
  div.className = "notice notice-error";
  div.setAttribute("role", "alert");
  var status = evt.detail.xhr.status;
  div.textContent = status === 403 ? "You don't have permission to do that." :
                    status === 404 ? "That item no longer exists." :
                    status === 429 ? "Too many requests. Wait a moment and try again." :
                    "Something went wrong (" + status + "). Reload and try again.";
  box.replaceChildren(div);
});

// Toasts: the server answers an htmx action with `HX-Trigger: {"toast": {"message": "...", "kind": "success"}}`
// (or a plain string); htmx fires a "toast" event on the requesting element and it bubbles here.
function portalToast(message, kind) {
  var region = document.getElementById("toasts");
  if (!region || !message) return;
  var toast = document.createElement("div");
  toast.className = "toast notice notice-" + (kind || "success");
  var text = document.createElement("span");
  text.textContent = message;
  var close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close link-button";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", function () { toast.remove(); });
  toast.append(text, close);
  region.append(toast);
  // Errors stay until dismissed: a person may need the time to read what went wrong.
  if (kind !== "error") setTimeout(function () { toast.remove(); }, 6000);
}
document.addEventListener("toast", function (evt) {
  var d = evt.detail || {};
  if (typeof d.value === "string") portalToast(d.value, "success");
  else portalToast(d.message || (d.value && d.value.message), d.kind || (d.value && d.value.kind));
});

// Confirm modal: any hx-confirm or data-confirm action asks in a native <dialog> (focus trap, Esc, danger
// styling) instead of window.confirm. Without JS the form simply submits.
function portalConfirm(question, actionLabel, trigger, proceed) {
  var dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") { if (window.confirm(question)) proceed(); return; }
  dialog.querySelector("[data-confirm-question]").textContent = question;
  var ok = dialog.querySelector("[data-confirm-ok]");
  ok.textContent = actionLabel || "Confirm";
  dialog.returnValue = "";
  dialog.addEventListener("close", function onClose() {
    dialog.removeEventListener("close", onClose);
    if (dialog.returnValue === "ok") proceed();
    else if (trigger && document.contains(trigger)) trigger.focus();  // focus goes back where it was
  });
  dialog.showModal();
  dialog.querySelector("[data-confirm-cancel]").focus();  // the safe choice has focus first
}
function confirmLabel(elt) {
  var holder = elt.closest("[data-confirm-action]");
  if (holder) return holder.getAttribute("data-confirm-action");
  var button = elt.matches("form") ? elt.querySelector("button[type=submit], button:not([type])") : elt;
  return button ? button.textContent.trim() : "Confirm";
}
document.addEventListener("htmx:confirm", function (evt) {
  var question = evt.detail.question || (evt.detail.elt.closest("[data-confirm]") || {}).dataset?.confirm;
  if (!question) return;
  evt.preventDefault();
  var elt = evt.detail.elt;
  var trigger = elt.matches("form") ? (elt.querySelector("button[type=submit], button:not([type])") || elt) : elt;
  portalConfirm(question, confirmLabel(elt), trigger, function () { evt.detail.issueRequest(true); });
});
// Plain (non-htmx) forms with data-confirm: ask, then submit for real.
document.addEventListener("submit", function (evt) {
  var form = evt.target;
  if (!form.matches("form[data-confirm]") || form.hasAttribute("hx-post") || form.dataset.confirmed) return;
  evt.preventDefault();
  var trigger = evt.submitter || form.querySelector("button");
  portalConfirm(form.dataset.confirm, confirmLabel(form), trigger, function () {
    form.dataset.confirmed = "1";
    form.requestSubmit(evt.submitter || undefined);
  });
});

// Focus after a swap: when the swap removed the focused control (a button that replaced its own row, a form),
// move to the swapped region's heading, flash, or first control, so it is not lost to <body>. A swap that took no
// focus away (a poll refreshing a ticket's thread while the person reads) leaves focus and scroll alone.
var focusWasInSwap = false;
document.addEventListener("htmx:beforeSwap", function (evt) {
  var active = document.activeElement, target = evt.detail.target;
  focusWasInSwap = !!(active && active !== document.body && target && target.contains(active));
});
document.addEventListener("htmx:afterSettle", function (evt) {
  var active = document.activeElement;
  if (!focusWasInSwap) return;
  focusWasInSwap = false;
  if (active && active !== document.body && document.contains(active)) return;
  var target = evt.detail.elt;
  if (!target || !document.contains(target)) return;
  var spot = target.querySelector("h1, h2, h3, [role=alert], .notice, a[href], button, input, select, textarea");
  if (!spot) { spot = target; }
  if (!spot.matches("a[href], button, input, select, textarea")) spot.setAttribute("tabindex", "-1");
  spot.focus({ preventScroll: false });
});

// Esc closes open menus (the org switcher and user menu are <details class="dropdown">) and returns focus.
document.addEventListener("keydown", function (evt) {
  if (evt.key !== "Escape") return;
  document.querySelectorAll("details.dropdown[open]").forEach(function (d) {
    d.removeAttribute("open");
    var summary = d.querySelector("summary");
    if (summary) summary.focus();
  });
});

// Phone header: the org's sections fold behind the Menu button (shown only when this script runs, so without
// JS the links stay listed); Esc or choosing a link folds them again.
(function () {
  var toggle = document.querySelector(".nav-toggle");
  if (!toggle) return;
  var nav = toggle.closest("nav");
  function setOpen(open) {
    nav.dataset.menu = open ? "open" : "closed";
    toggle.setAttribute("aria-expanded", String(open));
  }
  toggle.hidden = false;
  setOpen(false);
  toggle.addEventListener("click", function () { setOpen(nav.dataset.menu !== "open"); });
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape" && nav.dataset.menu === "open") { setOpen(false); toggle.focus(); }
  });
})();

// "/" or Ctrl-K (Cmd-K) jumps to the org's search box, as in GitHub and Linear; "/" only when not typing already.
document.addEventListener("keydown", function (evt) {
  var box = document.getElementById("nav-search");
  if (!box) return;
  var typing = evt.target.closest && evt.target.closest("input, textarea, select, [contenteditable]");
  var slash = evt.key === "/" && !typing && !evt.ctrlKey && !evt.metaKey && !evt.altKey;
  var commandK = (evt.ctrlKey || evt.metaKey) && (evt.key === "k" || evt.key === "K");
  if (!slash && !commandK) return;
  evt.preventDefault();
  var nav = box.closest("nav");
  if (nav && nav.dataset.menu === "closed") nav.querySelector(".nav-toggle").click();  // on a phone, open the menu first
  box.focus();
  box.select();
});

// Esc in the nav's search box leaves it (GitHub's and Linear's way), so that "/" searches again instead of typing a slash.
document.addEventListener("keydown", function (evt) {
  if (evt.key === "Escape" && evt.target.id === "nav-search") evt.target.blur();
});

// A table wider than a phone scrolls inside its .table-wrap: make such a box reachable by keyboard (Tab, then
// arrow keys) and named for screen readers, as axe's scrollable-region-focusable asks.
function markScrollableTables(root) {
  (root || document).querySelectorAll(".table-wrap").forEach(function (box) {
    var scrolls = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("scrolls", scrolls);  // shows the "more columns" hint (portal.css)
    if (scrolls) {
      box.setAttribute("tabindex", "0");
      if (!box.hasAttribute("aria-label") && !box.hasAttribute("role")) {
        var caption = box.querySelector("caption");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table, scrolls sideways");
      }
    } else if (box.getAttribute("tabindex") === "0") {
      box.removeAttribute("tabindex");
    }
  });
}
document.addEventListener("DOMContentLoaded", function () { markScrollableTables(); });
window.addEventListener("resize", function () { markScrollableTables(); });
document.addEventListener("htmx:afterSettle", function () { markScrollableTables(); });

// An organization's address follows its name as it is typed ("Happy Paws Clinic" -> happy-paws-clinic) until the
// person edits the address themselves: <input data-slug-from="<id of the name field>">.
document.querySelectorAll("input[data-slug-from]").forEach(function (slug) {
  var source = document.getElementById(slug.dataset.slugFrom);
  if (!source) return;
  var follows = slug.value === "";
  slug.addEventListener("input", function () { follows = slug.value === ""; });
  source.addEventListener("input", function () {
    if (!follows) return;
    slug.value = source.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
  });
});
