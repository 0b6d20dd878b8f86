"""The database: engine settings per backend (pooled PostgreSQL, or an embedded SQLite
file), the pool's dead-connection check, and the statement helpers the services share."""

from __future__ import annotations

import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from gophermart.extensions import db


def engine_options(uri: str, pool_size: int) -> dict:
    if make_url(uri).get_backend_name() == "sqlite":
        # One writer at a time: wait for the lock instead of failing with "database is locked".
        return {"connect_args": {"timeout": 15}}
    return {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        # No pool_pre_ping: a ping is a round trip on every check-out (its cost:
        # bench/FINDINGS.md); _drop_if_closed_by_server finds the dead connections without one.
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
    if not isinstance(dbapi_connection, psycopg2.extensions.connection):
        return
    if dbapi_connection.closed:  # the driver saw the end already (an error on an earlier use)
        raise sa.exc.DisconnectionError("the driver closed the connection")
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        ended = bool(poller.poll(0))
    except (psycopg2.Error, OSError) as error:  # the driver has already let the socket go
        raise sa.exc.DisconnectionError(str(error)) from error
    if ended:
        raise sa.exc.DisconnectionError("the server closed the connection")


def insert_or_ignore(model, *, alone: bool = False, **values) -> int | None:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id` of one row: its id, or None when the
    row conflicts with one already there (so the winner of a race gets the id back).
    `alone`: the insert is the whole change (see run_alone); with a value for every column
    that has a Python-side default, it runs on the driver's cursor (see first_alone)."""
    statement = _insert_or_ignore(model.__table__, db.session.get_bind().dialect.name, frozenset(values))
    if alone:
        row = first_alone(statement, values, on_session=True)
        return None if row is None else row[0]
    return db.session.execute(statement, values).scalar()


@cache
def _insert_or_ignore(table: sa.Table, dialect_name: str, columns: frozenset[str]):
    # One statement per table and set of columns, made once and run with the row's values
    # as parameters: a statement built for each row, through the ORM, cost more CPU than
    # the database's work.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    values: dict[str, sa.BindParameter] = {name: sa.bindparam(name) for name in sorted(columns)}
    return dialect.insert(table).values(values).on_conflict_do_nothing().returning(table.c.id)


def first_alone(statement, parameters=None, *, on_session: bool = False) -> tuple | None:
    """The first row of a statement that is a whole unit of work by itself (see `run_alone`):
    a SELECT, or a change with RETURNING; as a tuple, or None; see `_first_row_alone`.
    `on_session`: on the session's connection, for a unit of work whose statements come
    next on it (one pool check-out, not two)."""
    return _first_row_alone(statement, parameters, on_session)


def scalar_alone(statement, parameters=None):
    """The first column of the first row of such a SELECT, or None; see `_first_row_alone`."""
    row = _first_row_alone(statement, parameters, on_session=False)
    return None if row is None else row[0]


def _first_row_alone(statement, parameters, on_session: bool) -> tuple | None:
    """The first row of a statement that is a whole unit of work by itself. With no
    statement run yet in the session's transaction (PostgreSQL through psycopg2), it runs
    outside a transaction, as `run_alone` does: on the session's connection if
    `on_session`, else on a connection of its own, checked out of the pool for the
    statement and returned at once, without making the ORM session (a request whose only
    statements are such reads, GET balance and GET orders, then makes and removes no
    session at all). The statement is compiled once and run on the driver's cursor, so the
    row holds the driver's own values: for columns SQLAlchemy does not convert on psycopg2
    (numbers, NUMERIC as Decimal, text, timestamps), the values a Core query returns; an
    enum's column comes back as its text. Its parameters go to the driver as given
    (numbers, text, decimals, aware datetimes, string enums). Inside a transaction, on other
    drivers, and for SQL completed at each run (`_made_per_run`), as `run_alone` (their
    costs: bench/FINDINGS.md)."""
    engine = db.engine
    in_transaction = db.session.registry.has() and db.session().in_transaction()
    if engine.dialect.driver != "psycopg2" or (in_transaction and not on_session):
        return run_alone(statement, parameters).first()
    compiled = _compiled(statement, engine.dialect)
    if _made_per_run(compiled):
        return run_alone(statement, parameters).first()
    if not on_session:
        # The pool's connection itself (its check-out events run as for any other), without
        # the engine's Connection around it: one statement alone needs none of its machinery.
        try:
            pooled = engine.raw_connection()
        except psycopg2.Error as error:  # no connection to be had: SQLAlchemy's exception, as connect() raises
            raise sa.exc.DBAPIError.instance(None, None, error, psycopg2.Error, dialect=engine.dialect) from error
        try:
            return _first_on_cursor(pooled, pooled.invalidate, engine.dialect, compiled, parameters)
        finally:
            pooled.close()  # back to the pool
    connection = db.session.connection()
    if not _outside_a_transaction(connection):
        return run_alone(statement, parameters).first()  # in the transaction under way
    return _first_on_cursor(connection.connection, connection.invalidate, connection.dialect, compiled, parameters)


def _first_on_cursor(
    pooled: sa.PoolProxiedConnection,
    invalidate: Callable[[BaseException | None], None],
    dialect: sa.Dialect,
    compiled: sa.sql.compiler.SQLCompiler,
    parameters,
) -> tuple | None:
    """The statement's first row, run outside a transaction on the pooled connection's
    driver cursor; `invalidate` discards the connection (through whatever holds it)."""
    sql, parameters = compiled.string, compiled.construct_params(parameters)
    driver_connection: Any = pooled.dbapi_connection
    with _autocommit(driver_connection, invalidate):
        cursor = driver_connection.cursor()
        try:
            cursor.execute(sql, parameters)
            return cursor.fetchone()
        except psycopg2.Error as error:
            # As SQLAlchemy's own execution would: its exception (an OperationalError is a
            # 503), and a connection the server ended never goes back to the pool.
            ended = dialect.is_disconnect(error, pooled, cursor)
            if ended:
                invalidate(error)
            raise sa.exc.DBAPIError.instance(
                sql, parameters, error, psycopg2.Error, connection_invalidated=ended, dialect=dialect
            ) from error
        finally:
            cursor.close()


def _made_per_run(compiled: sa.sql.compiler.SQLCompiler) -> bool:
    """Whether SQLAlchemy's execution adds to the statement at each run: an expanding IN
    list, or a Python-side default (a column's `default` or `onupdate`)."""
    return bool(
        compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
    )


@lru_cache(maxsize=256)
def _compiled(statement, dialect) -> sa.sql.compiler.SQLCompiler:
    # SQLAlchemy's execution (its compiled cache, execution context and result) costs
    # more CPU than the driver's own round trip for a one-row read. Bounded: a statement
    # built per call would otherwise hold its entry for ever.
    return statement.compile(dialect=dialect)


def run_alone(statement, parameters=None):
    """Run one statement that is a whole unit of work by itself — a SELECT, or a change
    that needs no other statement with it — outside a transaction if none is open on the
    session's connection yet (PostgreSQL through psycopg2; elsewhere as usual). Callers of
    a change still end it, with a commit or `end_alone`: what ends the transaction
    otherwise. Core statements only: it runs on the connection, without the session's
    autoflush.

    In a transaction psycopg2 sends a BEGIN of its own before the first statement, and the
    session ends it with a COMMIT or ROLLBACK: two extra round trips, and the session's
    commit machinery, for a single statement that PostgreSQL runs atomically on its own
    (and, at READ COMMITTED, a SELECT reads the same committed rows). Once a transaction is
    open (earlier statements of this unit of work), the statement runs in it as before;
    the statements after it open a transaction as usual, so changes that belong together
    still commit or roll back together.
    """
    connection = db.session.connection()
    if not _outside_a_transaction(connection):
        return connection.execute(statement, parameters)
    with _autocommit(connection.connection.dbapi_connection, connection.invalidate):
        return connection.execute(statement, parameters)  # the rows are fetched already


def end_alone() -> None:
    """End a unit of work whose changes ran through `run_alone` or `first_alone`: commit,
    unless every one of them committed by itself (no transaction under way on the session's connection, on
    psycopg2). Then there is nothing to commit, and the session keeps its connection for the
    statements that follow: a commit would return it to the pool, and the next statement
    check it out again (their cost: bench/FINDINGS.md). Core statements only, as run_alone."""
    if not _outside_a_transaction(db.session.connection()):
        db.session.commit()


def _outside_a_transaction(connection: sa.Connection) -> bool:
    """Whether a statement can run alone on the session's connection: psycopg2, with no
    transaction under way on it (none begun, or every statement so far ran alone)."""
    if connection.dialect.driver != "psycopg2":
        return False
    driver_connection: Any = connection.connection.dbapi_connection
    return driver_connection.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE


@contextmanager
def _autocommit(driver_connection: Any, invalidate: Callable[[BaseException | None], None]) -> Iterator[None]:
    """The statements inside run outside a transaction; the connection is then back in the
    driver's transaction mode, or discarded if that fails (never pooled in autocommit). One
    closed meanwhile (discarded already, or broken) is left as it is: it is never used again."""
    driver_connection.autocommit = True
    try:
        yield
    finally:
        if not driver_connection.closed:
            try:
                driver_connection.autocommit = False
            except Exception:  # lost or mid-query
                invalidate(None)
