"""Operators' view: /healthz, /readyz, /metrics and the structured logs."""

import json
import logging
import re
import time

import pytest
import requests

from config import load_settings
from gophermart import create_app
from gophermart.accrual.connections import accrual_gate
from tests.support.factories import luhn_number
from tests.support.private_postgres import PrivatePostgres
from tests.support.processes import free_port, gophermart_command, service_env, serving, signed_up
from tests.support.racing import fire_together
from tests.support.scrape import metric


def test_healthz_and_readyz_when_all_is_up(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready"}


def test_readyz_is_503_when_the_broker_is_unreachable(app, tmp_path):
    settings = load_settings(
        argv=[],
        environ={},
        database_uri=app.config["SETTINGS"].database_uri,
        instance_dir=str(tmp_path),
        redis_url="redis://127.0.0.1:1/0",
    )
    # The limiter is one per process: keep its counters out of the unreachable Redis.
    response = create_app(settings, RATELIMIT_STORAGE_URI="memory://").test_client().get("/readyz")
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.json is not None
    assert "broker" in response.json["detail"]


@pytest.fixture(scope="module")
def private_postgres():
    server = PrivatePostgres(free_port()).init()
    server.start()
    yield server
    server.destroy()


def test_readyz_follows_the_database_without_a_restart(private_postgres, tmp_path):
    """503 while PostgreSQL is stopped (quickly, no hang), 200 again once it is back; the
    API answers 503 rather than 500 meanwhile."""
    port = free_port()
    env = service_env(private_postgres.uri, tmp_path, LOG_LEVEL="WARNING")
    base = f"http://127.0.0.1:{port}"
    with serving(gophermart_command("web", "-a", f"127.0.0.1:{port}"), env, port):
        assert requests.get(f"{base}/readyz").status_code == 200
        shopper = signed_up(base, "a", "b")
        private_postgres.stop()
        started = time.monotonic()
        down = requests.get(f"{base}/readyz", timeout=10)
        assert down.status_code == 503 and "database" in down.json()["detail"]
        api = shopper.get(f"{base}/api/user/balance", timeout=10)
        assert api.status_code == 503 and api.headers["Retry-After"]
        assert time.monotonic() - started < 10
        private_postgres.start()
        deadline = time.monotonic() + 20
        while requests.get(f"{base}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "not ready again after the database came back"
            time.sleep(0.2)
        assert shopper.get(f"{base}/api/user/balance").status_code == 200


def test_metrics_cover_requests_orders_and_accrual_calls(app, client, register):
    token = register("metrics")
    headers = {"Authorization": token}
    uploads = 'gophermart_http_request_duration_seconds_count{endpoint="api.hand_in_order",method="POST",status="202"}'
    before = metric(client.get("/metrics").get_data(as_text=True), uploads) or 0  # the app serves the whole session
    client.post("/api/user/orders", data=luhn_number(501), headers=headers)
    client.get("/api/user/orders", headers=headers)
    with app.app_context():
        accrual_gate().count_call("Final")  # as a worker does after each accrual request
    body = client.get("/metrics").get_data(as_text=True)
    assert metric(body, uploads) == before + 1
    assert (
        'gophermart_http_request_duration_seconds_bucket{endpoint="api.orders",le="0.005",method="GET",status="200"}'
        in body
    )
    assert metric(body, 'gophermart_orders{status="NEW"}') == 1
    assert metric(body, 'gophermart_accrual_calls_total{outcome="Final"}') == 1
    assert metric(body, "gophermart_accrual_pause_seconds") == 0


def test_metrics_of_all_gunicorn_workers_are_aggregated(live_web):
    def healthz_count() -> float:
        body = requests.get(f"{live_web}/metrics").text
        pattern = r'gophermart_http_request_duration_seconds_count\{[^}]*endpoint="health.healthz"[^}]*\} (\S+)'
        return sum(float(m) for m in re.findall(pattern, body))

    before = healthz_count()
    # Concurrent, on separate connections: the requests spread over the workers.
    fire_together(40, lambda _: requests.get(f"{live_web}/healthz").raise_for_status())
    # Whichever worker answers a scrape, it reports all of them.
    assert [healthz_count() for _ in range(5)] == [before + 40] * 5


def test_gunicorn_metrics_carry_the_domain_metrics_too(live_web):
    body = requests.get(f"{live_web}/metrics").text
    for sample in (
        'gophermart_orders{status="NEW"}',
        "gophermart_orders_parked",
        "gophermart_accrual_pause_seconds",
        "gophermart_accrual_calc_estimate_seconds",
    ):
        assert metric(body, sample) is not None, sample


def test_one_log_line_per_request_with_its_ids(client, register, caplog):
    caplog.set_level(logging.INFO, logger="gophermart.requests")
    token = register("logged")
    response = client.get("/api/user/balance", headers={"Authorization": token, "X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    [record] = [r for r in caplog.records if r.name == "gophermart.requests" and r.path == "/api/user/balance"]
    assert (record.method, record.status, record.request_id) == ("GET", 200, "abc-123")
    assert record.user_id == 1 and record.duration_ms >= 0
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)


def test_json_log_lines_carry_the_fields(capsys):
    from gophermart.logging import configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", "json")
        logging.getLogger("gophermart.test").info("order final", extra={"order_id": 7, "status": "PROCESSED"})
    finally:
        root.handlers[:], root.level = handlers, level
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["msg"] == "order final" and line["order_id"] == 7 and line["status"] == "PROCESSED"
    assert line["level"] == "INFO" and line["ts"].endswith("+00:00")


def test_request_metrics_keep_their_series_few(client):
    others = 'gophermart_http_request_total{method="other",status="405"}'
    before = metric(client.get("/metrics").get_data(as_text=True), others) or 0  # the app serves the whole session
    for method in ("BREW", "PROPFIND-X"):
        assert client.open("/healthz", method=method).status_code == 405
    body = client.get("/metrics").get_data(as_text=True)
    assert "BREW" not in body and "PROPFIND" not in body
    assert metric(body, others) == before + 2
    assert 'endpoint="metrics"' not in body  # scrapes are not counted as requests


def test_an_exception_outside_the_views_error_handling_is_counted(app):
    fresh = create_app(app.config["SETTINGS"])

    @fresh.after_request
    def broken(response):
        if response.status_code == 200 and fresh.config.get("BREAK_HEALTHZ"):
            raise RuntimeError("broken after the view")
        return response

    client = fresh.test_client()
    fresh.config["BREAK_HEALTHZ"] = True
    assert client.get("/healthz").status_code == 500
    fresh.config["BREAK_HEALTHZ"] = False
    body = client.get("/metrics").get_data(as_text=True)
    assert metric(body, 'gophermart_http_request_exceptions_total{method="GET",status="500"}') == 1
