// Starts Swagger UI on the service's own OpenAPI document (a file, so the page needs no inline script).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  var documentUrl = new URL(root.dataset.openapiUrl, window.location.href).href;
  window.ui = SwaggerUIBundle({
    url: documentUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The bundled Swagger UI (4.x) renders documents labelled 3.0 only; the document keeps
    // to what 3.0 can show, so the page relabels its copy (openapi.json itself stays 3.1).
    responseInterceptor: function (response) {
      if (response.ok && response.url === documentUrl && typeof response.text === "string") {
        var spec = JSON.parse(response.text);
        if (/^3\.1\./.test(spec.openapi)) {
          spec.openapi = "3.0.3";
          response.text = JSON.stringify(spec);
        }
      }
      return response;
    },
    validatorUrl: null, // no badge fetched from a validator elsewhere
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
