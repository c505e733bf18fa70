// Swagger UI for /api/docs: the spec URL comes from the page, so no inline script is needed.
window.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("swagger-ui");
  var meta = document.querySelector("meta[name=csrf-token]");
  var csrf = meta ? meta.content : null;
  window.ui = SwaggerUIBundle({
    url: el.dataset.spec,
    dom_id: "#swagger-ui",
    requestInterceptor: function (req) {
      if (csrf) req.headers["X-CSRFToken"] = csrf;
      return req;
    },
  });
});
