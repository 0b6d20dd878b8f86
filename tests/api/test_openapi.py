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
from decimal import Decimal

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

from gophermart.api.docs import OPENAPI
from gophermart.models import OrderStatus
from gophermart.services import ledger
from gophermart.services.orders import submit_order
from tests.factories import credit, luhn_number, order_id_of, user_id_of
from tests.processes import signed_up

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


def test_openapi_json_and_docs_page_are_served(client):
    document = client.get("/api/openapi.json")
    assert document.status_code == 200
    assert document.content_type == "application/json"
    assert document.json == OPENAPI

    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    for method, path in documented_operations():
        assert f"{method}</span> {path}</h3>" in html
    for code in ("200", "202", "204", "400", "401", "402", "409", "413", "415", "422", "429", "500", "503"):
        assert f"<strong>{code}</strong>" in html


def test_live_server_serves_the_same_document(live_web):
    response = requests.get(f"{live_web}/api/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == OPENAPI
    assert requests.get(f"{live_web}/api/docs", timeout=10).status_code == 200


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
