"""SQL building blocks shared by the services."""

from functools import lru_cache

import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.dialects import postgresql, sqlite

from gophermart.extensions import db


def insert_or_ignore(model, *, alone: bool = False, **values) -> int | None:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id` of one row: its id, or None when the
    row conflicts with one already there (so the winner of a race gets the id back).
    `alone`: the insert is the whole change (see run_alone)."""
    statement = _insert_or_ignore(model.__table__, db.session.get_bind().dialect.name)
    if alone:
        return run_alone(statement, values).scalar()
    return db.session.execute(statement, values).scalar()


@lru_cache(maxsize=None)
def _insert_or_ignore(table: sa.Table, dialect_name: str):
    # One statement per table, made once and run with the row's values as parameters: a
    # statement built for each row, through the ORM, cost more CPU than the database's work.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)


def run_alone(statement, parameters=None):
    """Run one statement that is a whole unit of work by itself — a SELECT, or a change
    that needs no other statement with it — outside a transaction if none is open on the
    session's connection yet (PostgreSQL through psycopg; elsewhere as usual). Callers of
    a change still commit: a no-op then, and what ends the transaction otherwise. Core
    statements only: it runs on the connection, without the session's autoflush.

    In a transaction psycopg sends a BEGIN of its own before the first statement, and the
    session ends it with a COMMIT or ROLLBACK: two extra round trips, and the session's
    commit machinery, for a single statement that PostgreSQL runs atomically on its own
    (and, at READ COMMITTED, a SELECT reads the same committed rows). Once a transaction is
    open (earlier statements of this unit of work), the statement runs in it as before;
    the statements after it open a transaction as usual, so changes that belong together
    still commit or roll back together.
    """
    connection = db.session.connection()
    if connection.dialect.driver != "psycopg":
        return connection.execute(statement, parameters)
    driver_connection = connection.connection.dbapi_connection
    if driver_connection.info.transaction_status != TransactionStatus.IDLE:
        return connection.execute(statement, parameters)
    driver_connection.autocommit = True
    try:
        return connection.execute(statement, parameters)  # the rows are fetched already
    finally:
        try:
            driver_connection.autocommit = False
        except Exception:  # lost or mid-query: discard it, never pool it in autocommit
            connection.invalidate()
