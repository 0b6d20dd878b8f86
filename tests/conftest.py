"""Shared fixtures: one migrated PostgreSQL database per test worker, a clean state per test.

PostgreSQL is reached through TEST_DATABASE_ADMIN_URI (default: the local server, user
postgres); each pytest-xdist worker gets its own database, created and migrated once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from flask_migrate import upgrade

from gophermart import create_app
from gophermart.accrual.queueing import RECENT_ESTIMATE
from gophermart.extensions import db, limiter
from tests.support.database import TABLES, drop_databases, recreate_database, test_settings
from tests.support.processes import live_web_server, signed_up
from tests.support.redis_db import redis_url_for
from tests.support.simulator import start_simulator


@pytest.fixture(scope="session")
def make_database(worker_id: str, testrun_uid: str):
    """`make_database(kind)` creates an empty database of this test run and worker (so two
    runs on one server never meet) and returns its URI; all are dropped at the end."""
    made = []

    def make(kind: str) -> str:
        name = f"gophermart_{kind}_{testrun_uid[:8]}_{worker_id}"
        uri = recreate_database(name)
        made.append(name)
        return uri

    yield make
    drop_databases(made)


@pytest.fixture(scope="session")
def database_uri(make_database, tmp_path_factory) -> str:
    """The migrated database the app and the live servers share."""
    uri = make_database("test")
    app = create_app(test_settings(uri, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return uri


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def _app(database_uri, instance_dir):
    return create_app(test_settings(database_uri, instance_dir))


@pytest.fixture
def app(_app):
    """The app, with every table and the login throttling counters emptied before the test."""
    limiter.reset()
    with _app.app_context():
        db.session.execute(db.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        db.session.execute(
            db.text(
                "UPDATE accrual_gate SET pause_until = 0, rate = 0, tokens = 1, tokens_at = 0, calc_estimate = 1, calc_estimate_lowered_at = 0"
            )
        )
        db.session.commit()
        db.session.remove()
    _app.extensions.pop(RECENT_ESTIMATE, None)  # the gate was reset: no read of it is recent
    yield _app


@pytest.fixture(autouse=True)
def _push_request_context():
    """Neutralise pytest-flask's autouse request context.

    With it, every test-client call would share one app context, so `g._login_user` and
    `db.session` would leak from one request into the next and an auth test could pass for
    the wrong reason. Each test-client request pushes its own context instead (see the
    `client` fixture, which for the same reason is not used as a context manager).
    """
    yield


@pytest.fixture(scope="module")
def simulator(simulator_calc_seconds):
    """The bundled accrual simulator (the real process), one per test module."""
    running = start_simulator(["--calc-time", str(simulator_calc_seconds)])
    yield running
    assert running.stop() == 0


@pytest.fixture
def sim(simulator, simulator_calc_seconds):
    """The module's simulator with empty state and default knobs."""
    simulator.reset(state=True)
    simulator.configure(rate_limit=0, rate_window=60, calc_seconds=simulator_calc_seconds, fault_rate=0, latency_ms=0)
    return simulator


@pytest.fixture(scope="module")
def simulator_calc_seconds() -> float:
    """How long the simulator calculates an order; folders of tests choose their own."""
    return 1


@pytest.fixture
def client(app):
    """A test client that keeps no context between requests (pytest-flask's would)."""
    return app.test_client()


@pytest.fixture
def register(client):
    """Register a user through the API; returns the bearer header value."""

    def _register(login: str = "alice", password: str = "secret") -> str:
        response = client.post("/api/user/register", json={"login": login, "password": password})
        assert response.status_code == 200, response.data
        return response.headers["Authorization"]

    return _register


@pytest.fixture
def auth_client(app, register):
    """A fresh test client (no cookie) plus a registered user's bearer header."""
    token = register()
    fresh = app.test_client()
    fresh.environ_base["HTTP_AUTHORIZATION"] = token
    return fresh


@pytest.fixture(scope="session")
def live_web(database_uri, tmp_path_factory):
    """The real `gophermart web` (gunicorn) serving the test database; yields its base URL.
    gthread, many threads: the racing tests need many requests in flight, the keep-alive
    tests a worker that keeps connections."""
    instance = tmp_path_factory.mktemp("live-instance")
    with live_web_server(database_uri, instance, WEB_WORKER_CLASS="gthread", WEB_WORKERS="2", WEB_THREADS="16") as url:
        yield url


@pytest.fixture
def live_user(live_web, app):
    """A user registered on the live server (after the tables were emptied)."""

    def _make(login: str = "live-user", password: str = "secret") -> requests.Session:
        return signed_up(live_web, login, password)

    return _make


@pytest.fixture(scope="session")
def redis_url(worker_id: str) -> str:
    """A Redis database of this test worker's own (see tests.support.redis_db)."""
    return redis_url_for(worker_id)
