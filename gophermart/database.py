"""Engine settings per backend: pooled PostgreSQL, or an embedded SQLite file."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url


def engine_options(uri: str, pool_size: int) -> dict:
    if make_url(uri).get_backend_name() == "sqlite":
        # One writer at a time: wait for the lock instead of failing with "database is locked".
        return {"connect_args": {"timeout": 15}}
    return {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "pool_pre_ping": True,
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
