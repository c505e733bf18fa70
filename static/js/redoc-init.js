// Redoc for /api/redoc, reading the spec URL from the page.
window.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("redoc");
  Redoc.init(el.dataset.spec, {}, el);
});
