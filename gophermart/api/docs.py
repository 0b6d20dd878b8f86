"""The OpenAPI description of the user API: GET /api/openapi.json and the API page at /api/docs/.

The document is `openapi.json` next to this module, read once at import (JSON, so serving
it needs no YAML parser). The page is Swagger UI ("try it out" included), served from the
files the `swagger-ui-bundle` package installs, so it works without internet access; the
page itself and its initializer live in `docs_page/`. Only the page and its assets get the
looser Content-Security-Policy Swagger UI needs; the document keeps the API's strict one.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from flask import Blueprint, Response, send_from_directory, url_for
from markupsafe import escape
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import NotFound

from gophermart.web.security_headers import with_docs_page_headers

blueprint = Blueprint("docs", __name__, url_prefix="/api")

OPENAPI_BYTES: bytes = files("gophermart.api").joinpath("openapi.json").read_bytes()
OPENAPI: dict = json.loads(OPENAPI_BYTES)

PAGE_DIR = files("gophermart.api").joinpath("docs_page")
PAGE_TEMPLATE: str = PAGE_DIR.joinpath("index.html").read_text(encoding="utf-8")
INITIALIZER_JS: bytes = PAGE_DIR.joinpath("initializer.js").read_bytes()
SWAGGER_UI_DIR = Path(str(swagger_ui_path))
# What the page loads, and the source maps a browser's developer tools ask for; the bundle's
# own index.html (the petstore demo) and its other builds are not served.
SWAGGER_UI_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui.css.map",
        "swagger-ui-bundle.js",
        "swagger-ui-bundle.js.map",
        "index.css",
        "favicon-16x16.png",
        "favicon-32x32.png",
    }
)


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    return Response(OPENAPI_BYTES, mimetype="application/json")


# `/api/docs` (no slash) redirects here, so the page's relative asset links resolve below it.
@blueprint.get("/docs/")
def docs_page() -> Response:
    page = PAGE_TEMPLATE.replace("{openapi_url}", str(escape(url_for("docs.openapi_document"))))
    return with_docs_page_headers(Response(page, mimetype="text/html"))


@blueprint.get("/docs/initializer.js")
def docs_initializer() -> Response:
    return with_docs_page_headers(Response(INITIALIZER_JS, mimetype="text/javascript"))


@blueprint.get("/docs/<path:filename>")
def docs_asset(filename: str) -> Response:
    if filename not in SWAGGER_UI_ASSETS:
        raise NotFound()
    return with_docs_page_headers(send_from_directory(SWAGGER_UI_DIR, filename))
