// Starts Swagger UI on #swagger-ui. The document's URL comes from the element's data-spec-url,
// so the page needs no inline script: its Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // The default validator badge calls validator.swagger.io: no third-party calls.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
