"""SQL building blocks shared by the services."""

from functools import lru_cache

import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.dialects import postgresql, sqlite

from gophermart.extensions import db


def insert_or_ignore(model, **values) -> int | None:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id` of one row: its id, or None when the
    row conflicts with one already there (so the winner of a race gets the id back)."""
    statement = _insert_or_ignore(model.__table__, db.session.get_bind().dialect.name)
    return db.session.execute(statement, values).scalar()


@lru_cache(maxsize=None)
def _insert_or_ignore(table: sa.Table, dialect_name: str):
    # One statement per table, made once and run with the row's values as parameters: a
    # statement built for each row, through the ORM, cost more CPU than the database's work.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)


def read(statement, parameters=None):
    """Run one plain SELECT on the session's connection, outside a transaction if none is
    open on it yet (PostgreSQL through psycopg; elsewhere as usual).

    In a transaction psycopg sends a BEGIN of its own before the first statement, and the
    session ends it with a ROLLBACK: for a request that only reads, two of its four round
    trips (the others: the pool's ping and the SELECT). One SELECT reads the same committed
    rows on its own. Once a transaction is open (writes of this request, not committed
    yet), the statement runs in it as before and sees them; and the statements after this
    one open a transaction as usual, so a write and the checks that go with it stay in one.
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
