"""The PostgreSQL pool: a connection the server ended is replaced before a request uses it,
and a live one is kept (no ping on check-out)."""

import time

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gophermart.database import engine_options
from tests.support.database import ADMIN_URI

BACKEND_PID = sa.text("SELECT pg_backend_pid()")


@pytest.fixture
def engine(database_uri):
    uri = make_url(database_uri).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(uri, **engine_options(str(uri), pool_size=1))
    yield engine
    engine.dispose()


def pooled_backend(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(BACKEND_PID).scalar_one()


def terminate(pid: int) -> None:
    with psycopg.connect(ADMIN_URI, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
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
