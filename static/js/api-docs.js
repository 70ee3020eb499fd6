// Starts Swagger UI on /api/docs from our own origin (the CSP allows no inline script).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("swagger-ui");
    if (!root || !window.SwaggerUIBundle) return;
    window.SwaggerUIBundle({
      url: root.getAttribute("data-spec-url"),
      domNode: root,
      deepLinking: false,
      validatorUrl: null,
      tryItOutEnabled: false,
    });
  });
})();
