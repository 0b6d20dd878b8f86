"""Engine settings per backend: pooled PostgreSQL, or an embedded SQLite file."""

from __future__ import annotations

import select
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url


def engine_options(uri: str, pool_size: int) -> dict:
    if make_url(uri).get_backend_name() == "sqlite":
        # One writer at a time: wait for the lock instead of failing with "database is locked".
        return {"connect_args": {"timeout": 15}}
    return {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        # No pool_pre_ping: a ping is a round trip on every check-out (about a tenth of a
        # GET balance's CPU); _drop_if_closed_by_server finds the dead connections without one.
        "pool_recycle": 1800,
        # Fail fast when the server is unreachable: callers answer 503 instead of hanging.
        "pool_timeout": 5,
        "connect_args": {"connect_timeout": 3},
    }


def prepare_sqlite_file(uri: str) -> None:
    database = make_url(uri).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@sa.event.listens_for(sa.pool.Pool, "checkout")
def _drop_if_closed_by_server(dbapi_connection, _record, _proxy):
    """Replace a pooled PostgreSQL connection that the server (or the driver) closed, before use.

    An idle connection has nothing to read unless the server ended it: a restart, a crash
    or pg_terminate_backend leave a FATAL message or the end of the stream on its socket.
    Looking at the socket costs one system call where a ping costs a round trip; the
    pool checks out another connection when this raises. Found by the first statement
    instead (that request answers 503, and the pool then renews its connections): a
    server host that vanished without closing its sockets, and the rare end of a
    connection that arrived right behind an answer and was read with it.
    """
    if not isinstance(dbapi_connection, psycopg.Connection):
        return
    try:
        poller = select.poll()
        poller.register(dbapi_connection.pgconn.socket, select.POLLIN)
        ended = bool(poller.poll(0))
    except (psycopg.Error, OSError) as error:  # the driver has already let the socket go
        raise sa.exc.DisconnectionError(str(error)) from error
    if ended:
        raise sa.exc.DisconnectionError("the server closed the connection")
