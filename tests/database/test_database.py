"""The PostgreSQL pool: a connection the server ended is replaced before a request uses it,
and a live one is kept (no ping on check-out)."""

import time

import psycopg2
import pytest
import sqlalchemy as sa

from config.settings import normalize_database_uri
from gophermart.database import engine_options
from tests.support.database import ADMIN_URI, connected, execute, fetch_one

BACKEND_PID = sa.text("SELECT pg_backend_pid()")


@pytest.fixture
def engine(database_uri):
    uri = normalize_database_uri(database_uri)  # as the service makes its engine
    engine = sa.create_engine(uri, **engine_options(uri, pool_size=1))
    assert engine.dialect.driver == "psycopg2"
    yield engine
    engine.dispose()


def pooled_backend(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(BACKEND_PID).scalar_one()


def terminate(pid: int) -> None:
    with connected(ADMIN_URI, autocommit=True) as admin:
        execute(admin, "SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while fetch_one(admin, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)):
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.02)


def test_a_live_pooled_connection_is_used_again_without_a_ping(engine, database_uri):
    assert "pool_pre_ping" not in engine_options(database_uri, pool_size=1)  # the hook replaces it
    assert pooled_backend(engine) == pooled_backend(engine)


def test_a_connection_closed_in_the_pool_is_replaced(engine):
    with engine.connect() as conn:
        ended = conn.execute(BACKEND_PID).scalar_one()
        driver_connection = conn.connection.dbapi_connection
    driver_connection.close()  # idle in the pool, its socket gone
    assert pooled_backend(engine) != ended


def test_a_connection_the_server_ended_is_replaced_before_the_first_statement(engine):
    ended = pooled_backend(engine)
    terminate(ended)  # as a server restart does to every connection
    assert pooled_backend(engine) != ended  # no error: the statement ran on a new connection


def test_a_connection_the_driver_marked_broken_is_replaced(engine):
    """A statement that met the server's end leaves psycopg2's `closed` flag at 2 (broken)
    and no socket: the check-out replaces it instead of handing out a dead connection."""
    with engine.connect() as conn:
        driver_connection = conn.connection.dbapi_connection
        ended = conn.execute(BACKEND_PID).scalar_one()
        conn.commit()
    terminate(ended)
    # Straight on the driver: the pool never hears of the failure.
    with pytest.raises(psycopg2.OperationalError), driver_connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert driver_connection.closed == 2
    assert pooled_backend(engine) != ended


def test_the_connect_timeout_reaches_the_driver(engine):
    # libpq's own option: an unreachable server fails the connect in seconds, not TCP's minutes.
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection.info.dsn_parameters["connect_timeout"] == "3"
