"""The OpenAPI description: valid OpenAPI 3.1, complete, served, and true to the service.

The conformance test loads the document from the app (WSGI) and fuzzes every operation
with schemathesis: its coverage cases (boundaries, missing and mistyped fields), positive
and negative generated cases and the document's examples. It calls as a user with orders,
points and a withdrawal (bearer token), as a user with nothing yet (session cookie only)
and anonymously, and fails on a 5xx, an undocumented status code or Content-Type, or a
body or header that breaks the schema. It runs in process, where every test starts with
fresh throttling counters; answers only a real HTTP server gives are checked on `live_web`.
"""

from __future__ import annotations

import gzip
import io
import re
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.openapi.checks import JsonSchemaError, UndefinedStatusCode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from swagger_ui_bundle import swagger_ui_path

from gophermart.api.docs import OPENAPI
from gophermart.models import OrderStatus
from gophermart.services import ledger
from gophermart.services.orders import submit_order
from gophermart.web.security_headers import API_CSP
from tests.support.factories import credit, luhn_number, order_id_of, user_id_of
from tests.support.processes import signed_up

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
MAX_EXAMPLES = 30


def documented_operations() -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path) for path, item in OPENAPI["paths"].items() for method in item if method in HTTP_METHODS
    )


# --- the document itself -------------------------------------------------------------------


def test_document_is_valid_openapi_3_1():
    assert OPENAPI["openapi"].startswith("3.1.")
    validate_openapi(OPENAPI)


def test_document_covers_every_route_of_the_api_blueprint(app):
    routes = {
        (method, rule.rule.replace("<", "{").replace(">", "}"))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes and routes == set(documented_operations())


def test_every_operation_documents_the_service_wide_answers():
    for method, path in documented_operations():
        operation = OPENAPI["paths"][path][method.lower()]
        codes = set(operation["responses"])
        assert {"400", "413", "415", "500", "503"} <= codes, (method, path)
        protected = operation.get("security") != []
        assert ("401" in codes) == (protected or operation["operationId"] == "login"), (method, path)
        if protected:
            assert operation["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]


def test_openapi_json_is_served(client):
    document = client.get("/api/openapi.json")
    assert document.status_code == 200
    assert document.content_type == "application/json"
    assert document.json == OPENAPI


# --- the API page: Swagger UI from the installed package --------------------------------------


def csp_directives(response) -> dict[str, set[str]]:
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = set(sources)
    return directives


def page_links(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_docs_page_is_swagger_ui_on_the_document(client):
    assert client.get("/api/docs").status_code == 308  # to the slash, where relative links resolve
    assert client.get("/api/docs").headers["Location"].endswith("/api/docs/")
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'data-openapi-url="/api/openapi.json"' in html
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "initializer.js"} <= set(page_links(html))
    assert "://" not in html and 'src="//' not in html  # nothing from elsewhere: works offline
    assert re.search(r"<script>", html) is None  # no inline script for the policy to allow
    initializer = client.get("/api/docs/initializer.js").get_data(as_text=True)
    assert "SwaggerUIBundle(" in initializer and "openapiUrl" in initializer


def test_docs_page_assets_come_from_the_installed_swagger_ui_bundle(client):
    installed = Path(str(swagger_ui_path))
    assert installed.is_dir() and version("swagger-ui-bundle") == "1.1.0"
    assets = [link for link in page_links(client.get("/api/docs/").get_data(as_text=True)) if link != "initializer.js"]
    assert len(assets) == 5
    for asset in assets:
        response = client.get(f"/api/docs/{asset}")
        assert response.status_code == 200, asset
        assert response.data == (installed / asset).read_bytes(), asset
    assert client.get("/api/docs/swagger-ui-bundle.js").mimetype == "text/javascript"
    assert client.get("/api/docs/swagger-ui.css").mimetype == "text/css"


def test_docs_serves_only_the_assets_the_page_uses(client):
    for name in ("index.html", "swagger-initializer.js", "../openapi.json", "nothing.js", "..%2f..%2fopenapi.json"):
        response = client.get(f"/api/docs/{name}")
        assert response.status_code == 404, name
        assert response.mimetype == "application/problem+json", name


def test_docs_page_policy_allows_what_swagger_ui_needs_and_no_other_origin(client):
    for path in (
        "/api/docs/",
        "/api/docs/initializer.js",
        "/api/docs/swagger-ui-bundle.js",
        "/api/docs/swagger-ui.css",
    ):
        directives = csp_directives(client.get(path))
        assert directives["default-src"] == {"'none'"}, path
        assert directives["script-src"] == {"'self'"}, path  # no inline script, no eval
        assert directives["style-src"] == {"'self'", "'unsafe-inline'"}, path  # the bundle applies inline styles
        assert directives["img-src"] == {"'self'", "data:"}, path  # the stylesheet's SVG icons
        assert directives["connect-src"] == {"'self'"}, path  # the document and "try it out"
        assert directives["frame-ancestors"] == {"'none'"}, path
        sources = set().union(*directives.values())
        assert sources <= {"'self'", "'none'", "'unsafe-inline'", "data:"}, path  # no host, scheme or wildcard


def test_every_other_response_keeps_the_strict_policy(client, auth_client):
    for response in (
        client.get("/api/openapi.json"),
        client.get("/api/docs"),  # the redirect
        client.get("/api/docs/index.html"),  # a 404 under the page's path
        client.get("/api/user/balance"),
        auth_client.get("/api/user/balance"),
        client.post("/api/user/register", json={"login": "strict", "password": "p"}),
        client.get("/healthz"),
    ):
        assert response.headers["Content-Security-Policy"] == API_CSP, response.request.path
        assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_live_server_serves_the_same_document(live_web):
    response = requests.get(f"{live_web}/api/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == OPENAPI
    page = requests.get(f"{live_web}/api/docs", timeout=10)  # redirected to /api/docs/
    assert page.status_code == 200 and page.url == f"{live_web}/api/docs/"
    assert csp_directives(page)["script-src"] == {"'self'"}
    assert requests.get(f"{live_web}/api/docs/swagger-ui-bundle.js", timeout=10).status_code == 200


# --- the service against the document ---------------------------------------------------------


def compress_announced_gzip(app):
    """Stands in for a client: a body announced as `Content-Encoding: gzip` is compressed."""

    def wsgi(environ, start_response):
        if environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            packed = gzip.compress(body)
            environ = {**environ, "CONTENT_LENGTH": str(len(packed)), "wsgi.input": io.BytesIO(packed)}
        return app(environ, start_response)

    return wsgi


def give_history(app, login: str) -> None:
    """Orders in every status, points and a withdrawal: every list and amount has content."""
    credit(app, login, "729.98")
    credit(app, login, "0.07")
    with app.app_context():
        user_id = user_id_of(login)
        for seed, status in ((777, OrderStatus.INVALID), (778, None)):
            number = luhn_number(seed)
            submit_order(user_id, number)
            if status is not None:
                order_id = order_id_of(number)
                ledger.apply_final_status(order_id, status)
        ledger.withdraw(user_id, "2377225624", Decimal("500.5"))


def credentials(auth_mode: str, app) -> dict:
    """Transport arguments for one way of calling: a user with history by bearer token,
    a user with nothing yet by session cookie only, or no credentials at all."""
    if auth_mode == "anonymous":
        return {}
    client = app.test_client()
    response = client.post("/api/user/register", json={"login": auth_mode, "password": "secret"})
    assert response.status_code == 200, response.data
    if auth_mode == "bearer":
        give_history(app, auth_mode)
        return {"headers": {"Authorization": response.headers["Authorization"]}}
    return {"cookies": {"session": client.get_cookie("session").value}}


def cases(operation, definition: dict):
    """Positive and (where the operation takes input) negative cases, and the examples."""
    strategies = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE)]
    if "requestBody" in definition or definition.get("parameters"):
        strategies.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    strategies.extend(operation.get_strategies_from_examples())
    return st.one_of(strategies)


@pytest.mark.parametrize("auth_mode", ["bearer", "cookie", "anonymous"])
@pytest.mark.parametrize("method, path", documented_operations())
def test_service_conforms_to_the_document(app, method, path, auth_mode):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # Credentials are the test's to give (or withhold), never random Authorization values.
    schema.config.generation.update(with_security_parameters=False)
    operation = schema[path][method]
    transport = credentials(auth_mode, app)
    client = compress_announced_gzip(app)

    def call_and_validate(case):
        case.call_and_validate(
            app=client,
            checks=CHECKS,
            headers=dict(transport.get("headers", {})),
            cookies=dict(transport.get("cookies", {})),
        )

    for case in schema.iter_coverage_cases(
        operation,
        generation_modes=list(GenerationMode),
        generation_config=schema.config.generation_for(operation=operation),
    ):
        call_and_validate(case)

    @given(case=cases(operation, OPENAPI["paths"][path][method.lower()]))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    def fuzz(case):
        call_and_validate(case)

    fuzz()


def test_conformance_checks_fail_when_the_document_disagrees(app, auth_client):
    """The checks used above do notice an undocumented status code or a body off the schema."""
    document = {**OPENAPI, "paths": {**OPENAPI["paths"]}, "components": {**OPENAPI["components"]}}
    balance = document["paths"]["/api/user/balance"] = {"get": {**OPENAPI["paths"]["/api/user/balance"]["get"]}}
    balance["get"]["responses"] = {k: v for k, v in balance["get"]["responses"].items() if k != "401"}
    document["components"]["schemas"] = {
        **OPENAPI["components"]["schemas"],
        "Balance": {"type": "object", "required": ["points"]},
    }
    operation = schemathesis.openapi.from_dict(document)["/api/user/balance"]["GET"]

    anonymous = app.test_client().get("/api/user/balance")
    with pytest.raises(BaseExceptionGroup) as undocumented:
        operation.Case().validate_response(anonymous, checks=CHECKS)
    assert [type(failure) for failure in undocumented.value.exceptions] == [UndefinedStatusCode]

    authenticated = auth_client.get("/api/user/balance")
    assert authenticated.status_code == 200
    with pytest.raises(BaseExceptionGroup) as off_schema:
        operation.Case().validate_response(authenticated, checks=CHECKS)
    assert [type(failure) for failure in off_schema.value.exceptions] == [JsonSchemaError]


# --- answers of the real HTTP server, checked against the document -----------------------------


@pytest.fixture
def live_schema(live_web):
    return schemathesis.openapi.from_url(f"{live_web}/api/openapi.json")


@pytest.fixture
def bearer(live_web, app) -> dict[str, str]:
    return {"Authorization": signed_up(live_web, "edge").headers["Authorization"]}


def validate_live(live_schema, method: str, path: str, response: requests.Response, expected: int) -> None:
    assert response.status_code == expected, response.text
    live_schema[path][method].validate_response(response)


def test_unsupported_content_encoding_is_a_documented_415(live_web, live_schema, bearer):
    for method, path in documented_operations():
        response = requests.request(
            method, f"{live_web}{path}", data=b"x", headers={**bearer, "Content-Encoding": "br"}, timeout=10
        )
        validate_live(live_schema, method, path, response, 415)


def test_broken_gzip_is_a_documented_400(live_web, live_schema, bearer):
    for method, path in documented_operations():
        response = requests.request(
            method, f"{live_web}{path}", data=b"not gzip", headers={**bearer, "Content-Encoding": "gzip"}, timeout=10
        )
        validate_live(live_schema, method, path, response, 400)


def test_too_large_bodies_are_a_documented_413(live_web, live_schema, bearer):
    orders = f"{live_web}/api/user/orders"
    too_large = requests.post(orders, data=b"1" * (65536 + 1), headers=bearer, timeout=10)
    validate_live(live_schema, "POST", "/api/user/orders", too_large, 413)
    bomb = gzip.compress(b" " * (1 << 20))
    inflated_too_large = requests.post(orders, data=bomb, headers={**bearer, "Content-Encoding": "gzip"}, timeout=10)
    validate_live(live_schema, "POST", "/api/user/orders", inflated_too_large, 413)


def test_chunked_gzip_body_is_accepted(live_web, live_schema, bearer):
    """Regression: a gzip body sent chunked (no Content-Length) was read as empty: 400."""
    packed = gzip.compress(b"12345678903")
    chunks = iter([packed[:7], packed[7:]])  # requests sends an iterator with Transfer-Encoding: chunked
    headers = {**bearer, "Content-Encoding": "gzip", "Content-Type": "text/plain"}
    response = requests.post(f"{live_web}/api/user/orders", data=chunks, headers=headers, timeout=10)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    validate_live(live_schema, "POST", "/api/user/orders", response, 202)

    too_large = iter([b"\x1f\x8b" + b"\x00" * 40000, b"\x00" * 40000])
    response = requests.post(f"{live_web}/api/user/orders", data=too_large, headers=headers, timeout=10)
    validate_live(live_schema, "POST", "/api/user/orders", response, 413)
