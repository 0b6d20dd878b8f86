"""METRICS_ADDRESS: the real `gophermart web` serves /metrics on its own address, off the
public port, with the HTTP metrics of every worker and the domain ones."""

import requests

from gophermart import create_app
from tests.support.database import test_settings
from tests.support.processes import free_port, gophermart_command, service_env, serving, signed_up
from tests.support.scrape import metric


def test_metrics_are_served_apart_and_the_public_port_has_none(database_uri, tmp_path, app):
    public, private = free_port(), free_port()
    env = service_env(database_uri, tmp_path, WEB_WORKERS="2", METRICS_ADDRESS=f"127.0.0.1:{private}")
    with serving(gophermart_command("web", "-a", f"127.0.0.1:{public}"), env, public):
        base = f"http://127.0.0.1:{public}"
        user = signed_up(base, "metered")
        assert user.post(f"{base}/api/user/orders", data="12345678903", timeout=10).status_code == 202
        assert requests.get(f"{base}/metrics", timeout=10).status_code == 404
        body = requests.get(f"http://127.0.0.1:{private}/metrics", timeout=10).text
        assert metric(body, 'gophermart_orders{status="NEW"}') == 1
        assert metric(body, "gophermart_orders_parked") == 0
        # The workers' request metrics, gathered by the master's listener.
        assert "gophermart_http_request_duration_seconds_count" in body
        assert 'status="404"' in body


def test_the_public_api_has_no_metrics_when_they_are_served_apart(app, tmp_path):
    settings = test_settings(app.config["SETTINGS"].database_uri, tmp_path, metrics_address="127.0.0.1:0")
    assert create_app(settings).test_client().get("/metrics").status_code == 404
    assert app.test_client().get("/metrics").status_code == 200  # unset: served as before
