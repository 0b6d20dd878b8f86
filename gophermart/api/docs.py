"""The OpenAPI description of the user API: GET /api/openapi.json and a browsable GET /api/docs.

The document is `openapi.json` next to this module, read once at import (JSON, so serving
it needs no YAML parser). The docs page is rendered from it once, on the server, and is
self-contained (no scripts, no external assets), so it works without internet access.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

from flask import Blueprint, Response
from markupsafe import Markup, escape

blueprint = Blueprint("docs", __name__, url_prefix="/api")

OPENAPI_BYTES: bytes = files("gophermart.api").joinpath("openapi.json").read_bytes()
OPENAPI: dict = json.loads(OPENAPI_BYTES)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_CODE_SPAN = re.compile(r"`([^`]+)`")

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
h3 { font-family: ui-monospace, monospace; margin-bottom: .25rem; }
.method { display: inline-block; min-width: 4rem; padding: 0 .4rem; border-radius: 3px; color: #fff;
          background: #555; text-align: center; }
.get { background: #2a7ab0; } .post { background: #3b8a3e; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; vertical-align: top; padding: .25rem .5rem; border-bottom: 1px solid #eee; }
code { background: #f4f4f4; padding: 0 .2rem; border-radius: 3px; }
pre { background: #f4f4f4; padding: .5rem; overflow-x: auto; }
"""


def _text(value: object) -> Markup:
    """Escaped text with `code spans` and paragraphs; descriptions use no other markup."""
    escaped = str(escape(str(value or "")))
    escaped = _CODE_SPAN.sub(r"<code>\1</code>", escaped)
    paragraphs = [p.replace("\n", "<br>") for p in escaped.split("\n\n") if p.strip()]
    return Markup("".join(f"<p>{p}</p>" for p in paragraphs))


def _resolve(node: dict) -> dict:
    """Follow a local `$ref` (`#/components/...`) to the object it names."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = OPENAPI
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _schema_name(schema: dict) -> Markup:
    """A link to a named schema, else the bare type."""
    if "$ref" in schema:
        name = escape(schema["$ref"].rsplit("/", 1)[-1])
        return Markup(f'<a href="#schema-{name}">{name}</a>')
    return escape(schema.get("type", ""))


def _security(operation: dict) -> str:
    requirements = operation.get("security", OPENAPI.get("security", []))
    names = [name for requirement in requirements for name in requirement]
    return " or ".join(names) if names else "none"


def _request_body(operation: dict) -> str:
    if "requestBody" not in operation:
        return ""
    body = _resolve(operation["requestBody"])
    rows = []
    for media_type, content in body.get("content", {}).items():
        schema = content.get("schema", {})
        example = content.get("example")
        sample = f"<pre>{escape(json.dumps(example, ensure_ascii=False))}</pre>" if example is not None else ""
        rows.append(
            f"<tr><td><code>{escape(media_type)}</code></td><td>{_schema_name(schema)}"
            f"{_text(_resolve(schema).get('description', ''))}{sample}</td></tr>"
        )
    return (
        f"<h4>Request body</h4>{_text(body.get('description', ''))}"
        f"<table><tr><th>Content-Type</th><th>Schema</th></tr>{''.join(rows)}</table>"
    )


def _responses(operation: dict) -> str:
    rows = []
    for code, response in sorted(operation.get("responses", {}).items()):
        response = _resolve(response)
        media = (
            ", ".join(
                f"<code>{escape(media_type)}</code> {_schema_name(content.get('schema', {}))}"
                for media_type, content in response.get("content", {}).items()
            )
            or "no body"
        )
        headers = ", ".join(f"<code>{escape(name)}</code>" for name in response.get("headers", {}))
        rows.append(
            f"<tr><td><strong>{escape(code)}</strong></td><td>{_text(response.get('description'))}</td>"
            f"<td>{media}</td><td>{headers}</td></tr>"
        )
    return (
        "<h4>Responses</h4><table><tr><th>Status</th><th>When</th><th>Body</th><th>Headers</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _operation(path: str, method: str, operation: dict) -> str:
    parameters = [_resolve(p) for p in operation.get("parameters", [])]
    parameter_rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code> ({escape(p['in'])})</td><td>{_text(p.get('description'))}</td></tr>"
        for p in parameters
    )
    parameter_table = f"<h4>Parameters</h4><table>{parameter_rows}</table>" if parameters else ""
    return (
        f'<section id="{escape(operation.get("operationId", ""))}">'
        f'<h3><span class="method {method}">{method.upper()}</span> {escape(path)}</h3>'
        f"<p><strong>{escape(operation.get('summary', ''))}</strong> · auth: {escape(_security(operation))}</p>"
        f"{_text(operation.get('description', ''))}{parameter_table}{_request_body(operation)}{_responses(operation)}"
        "</section>"
    )


def _schemas() -> str:
    parts = []
    for name, schema in OPENAPI.get("components", {}).get("schemas", {}).items():
        parts.append(
            f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>{_text(schema.get("description", ""))}'
            f"<pre>{escape(json.dumps(schema, indent=2, ensure_ascii=False))}</pre>"
        )
    return "".join(parts)


def _security_schemes() -> str:
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{_text(scheme.get('description'))}</td></tr>"
        for name, scheme in OPENAPI.get("components", {}).get("securitySchemes", {}).items()
    )
    return f"<h2>Authentication</h2><table>{rows}</table>"


def render_page() -> str:
    info = OPENAPI["info"]
    operations = "".join(
        _operation(path, method, item[method])
        for path, item in OPENAPI["paths"].items()
        for method in HTTP_METHODS
        if method in item
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(info['title'])}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(info['title'])} <small>{escape(info['version'])}</small></h1>"
        f"{_text(info.get('summary', ''))}{_text(info.get('description', ''))}"
        '<p>The machine-readable document: <a href="openapi.json">openapi.json</a> (OpenAPI '
        f"{escape(OPENAPI['openapi'])}).</p>"
        f"{_security_schemes()}<h2>Operations</h2>{operations}<h2>Schemas</h2>{_schemas()}"
        "</body></html>"
    )


DOCS_PAGE: str = render_page()


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    return Response(OPENAPI_BYTES, mimetype="application/json")


@blueprint.get("/docs")
def docs_page() -> Response:
    # The security headers allow this page its inline style and nothing else.
    return Response(DOCS_PAGE, mimetype="text/html")
