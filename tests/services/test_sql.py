"""services.sql.run_alone: a statement that is a whole unit of work runs outside a
transaction (no BEGIN, no COMMIT round trips), and never splits one that is open."""

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus

from gophermart.extensions import db
from gophermart.models import User
from gophermart.services.sql import run_alone

USERS = User.__table__.c


@pytest.fixture
def user_id(app):
    with app.app_context():
        user_id = db.session.execute(
            sa.insert(User.__table__).values(login="solo", password_hash="x").returning(USERS.id)
        ).scalar_one()
        db.session.commit()
        return user_id


def auth_version(database_uri: str, user_id: int) -> int:
    """Read from another connection: what is committed."""
    with psycopg.connect(database_uri) as conn:
        return conn.execute("SELECT auth_version FROM users WHERE id = %s", (user_id,)).fetchone()[0]


def bump(user_id: int):
    return sa.update(User.__table__).where(USERS.id == user_id).values(auth_version=USERS.auth_version + 1)


def driver_connection():
    return db.session.connection().connection.dbapi_connection


def test_a_change_alone_is_committed_by_itself_and_leaves_no_transaction(app, user_id, database_uri):
    with app.app_context():
        before = auth_version(database_uri, user_id)
        run_alone(bump(user_id))
        conn = driver_connection()
        assert conn.info.transaction_status == TransactionStatus.IDLE  # no BEGIN was sent
        assert conn.autocommit is False  # the next statement opens a transaction as usual
        assert auth_version(database_uri, user_id) == before + 1  # committed before any commit()
        db.session.commit()


def test_the_statements_after_it_are_one_transaction_again(app, user_id, database_uri):
    with app.app_context():
        before = auth_version(database_uri, user_id)
        run_alone(bump(user_id))
        db.session.execute(bump(user_id))
        assert driver_connection().info.transaction_status == TransactionStatus.INTRANS
        db.session.rollback()
        assert auth_version(database_uri, user_id) == before + 1  # the second change was undone


def test_inside_an_open_transaction_it_runs_in_it(app, user_id, database_uri):
    with app.app_context():
        before = auth_version(database_uri, user_id)
        db.session.execute(bump(user_id))
        run_alone(bump(user_id))
        assert auth_version(database_uri, user_id) == before  # nothing committed yet
        db.session.rollback()
        assert auth_version(database_uri, user_id) == before  # both changes undone together


def test_a_select_alone_returns_its_rows(app, user_id):
    with app.app_context():
        rows = run_alone(sa.select(USERS.login).where(USERS.id == user_id)).all()
        assert [tuple(row) for row in rows] == [("solo",)]
        assert driver_connection().info.transaction_status == TransactionStatus.IDLE
