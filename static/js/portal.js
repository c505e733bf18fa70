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
