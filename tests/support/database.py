"""The tests' PostgreSQL: the admin URI, databases made and dropped, a plain driver
connection, and the app's settings for a test database."""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import psycopg2.extensions
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from config import Settings, load_settings

ADMIN_URI = os.environ.get("TEST_DATABASE_ADMIN_URI", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = ("withdrawals", "orders", "users", "accrual_call_counts")


@contextmanager
def executed_through_sqlalchemy(engine: sa.Engine) -> Iterator[list[str]]:
    """The SQL of every statement SQLAlchemy's execution sends on `engine` inside; what runs
    on the driver's cursor directly (gophermart.database.first_alone) is not in it."""
    executed: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        executed.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield executed
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


class TransactionStatus(enum.IntEnum):
    """libpq's transaction status, as a driver connection's `info.transaction_status` reports it."""

    IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE
    ACTIVE = psycopg2.extensions.TRANSACTION_STATUS_ACTIVE
    INTRANS = psycopg2.extensions.TRANSACTION_STATUS_INTRANS
    INERROR = psycopg2.extensions.TRANSACTION_STATUS_INERROR
    UNKNOWN = psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN


@contextmanager
def connected(uri: str, *, autocommit: bool = False) -> Iterator[psycopg2.extensions.connection]:
    """A driver connection to `uri` outside the app; committed when the block ends without
    an error, and closed in any case (psycopg2's own `with` ends the transaction only, and
    opens one even in autocommit mode)."""
    conn = psycopg2.connect(uri)
    conn.autocommit = autocommit  # DROP and CREATE DATABASE refuse to run in a transaction
    try:
        yield conn
        if not autocommit:
            conn.commit()
    finally:
        conn.close()  # uncommitted work is rolled back


def fetch_all(conn: psycopg2.extensions.connection, sql: str, params: tuple = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def fetch_one(conn: psycopg2.extensions.connection, sql: str, params: tuple = ()) -> tuple | None:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def execute(conn: psycopg2.extensions.connection, sql: str, params: tuple = ()) -> None:
    with conn.cursor() as cur:
        cur.execute(sql, params)


def database_uri_named(name: str, admin_uri: str = ADMIN_URI) -> str:
    """The URI of database `name` on the admin URI's server."""
    return make_url(admin_uri).set(database=name).render_as_string(hide_password=False)


def recreate_database(name: str, admin_uri: str = ADMIN_URI) -> str:
    """An empty database `name` (dropped first if it exists); returns its URI."""
    with connected(admin_uri, autocommit=True) as conn:
        execute(conn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        execute(conn, f'CREATE DATABASE "{name}"')
    return database_uri_named(name, admin_uri)


def drop_databases(names: list[str]) -> None:
    with connected(ADMIN_URI, autocommit=True) as conn:
        for name in names:
            execute(conn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_settings(database_uri: str, instance_dir: Path, **overrides) -> Settings:
    """The app's settings for a test: the given database, cheap password hashes, text logs."""
    return load_settings(
        argv=[],
        environ={},
        database_uri=database_uri,
        instance_dir=str(instance_dir),
        password_hash_cost="low",
        log_format="text",
        **overrides,
    )


test_settings.__test__ = False  # type: ignore[attr-defined]  # pytest reads it off the function: a helper, not a test
