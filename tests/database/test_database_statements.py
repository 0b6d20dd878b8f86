"""database.run_alone: a statement that is a whole unit of work runs outside a
transaction (no BEGIN, no COMMIT round trips), and never splits one that is open; and
first_alone / scalar_alone, the reads that make no ORM session when none is open (or run
on the session's connection, outside a transaction)."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine.interfaces import DBAPIConnection

from gophermart.database import end_alone, first_alone, run_alone, scalar_alone
from gophermart.extensions import db
from gophermart.models import NEW_ORDER_TOKEN, ORDERS, USERS, User, users_table
from gophermart.services.orders import Submission, submit_order
from tests.support.database import ADMIN_URI, TransactionStatus, connected, executed_through_sqlalchemy, fetch_one


@pytest.fixture
def user_id(app):
    with app.app_context():
        user_id = db.session.execute(
            sa.insert(users_table).values(login="solo", password_hash="x").returning(USERS.id)
        ).scalar_one()
        db.session.commit()
        return user_id


def auth_version(database_uri: str, user_id: int) -> int:
    """Read from another connection: what is committed."""
    with connected(database_uri) as conn:
        row = fetch_one(conn, "SELECT auth_version FROM users WHERE id = %s", (user_id,))
    assert row is not None
    return row[0]


def bump(user_id: int):
    return sa.update(users_table).where(USERS.id == user_id).values(auth_version=USERS.auth_version + 1)


def driver_connection() -> DBAPIConnection:
    conn = db.session.connection().connection.dbapi_connection
    assert conn is not None  # the session's connection is checked out
    return conn


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


def test_a_failed_statement_alone_leaves_the_connection_usable(app, user_id):
    with app.app_context():
        duplicate = sa.insert(users_table).values(login="solo", password_hash="y")
        with pytest.raises(sa.exc.IntegrityError):
            run_alone(duplicate)
        assert driver_connection().autocommit is False
        db.session.rollback()
        assert db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 1


def test_a_connection_lost_under_it_is_discarded_not_pooled_in_autocommit(app, user_id):
    with app.app_context():
        pid = driver_connection().info.backend_pid  # checked out
        with connected(ADMIN_URI, autocommit=True) as admin:
            assert fetch_one(admin, "SELECT pg_terminate_backend(%s)", (pid,)) == (True,)
        with pytest.raises(sa.exc.OperationalError):
            run_alone(sa.select(USERS.login))
        db.session.rollback()
        db.session.remove()
    with app.app_context():
        conn = driver_connection()
        assert conn.info.backend_pid != pid and conn.autocommit is False
        assert run_alone(sa.select(USERS.login).where(USERS.id == user_id)).scalar_one() == "solo"


def test_a_read_alone_with_no_transaction_open_makes_no_session(app, user_id):
    with app.app_context():
        assert first_alone(sa.select(USERS.login, USERS.auth_version).where(USERS.id == user_id)) == ("solo", 1)
        assert scalar_alone(sa.select(USERS.login).where(USERS.id == user_id)) == "solo"
        assert first_alone(sa.select(USERS.login).where(USERS.id == -1)) is None
        assert not db.session.registry.has()  # no session made, none to remove
        with db.engine.connect() as connection:  # the pool's connections are back as they were
            conn = connection.connection.dbapi_connection
            assert conn is not None and conn.autocommit is False
            assert conn.info.transaction_status == TransactionStatus.IDLE


def test_a_read_alone_inside_an_open_transaction_runs_in_it(app, user_id, database_uri):
    with app.app_context():
        before = auth_version(database_uri, user_id)
        db.session.execute(bump(user_id))
        read = sa.select(USERS.auth_version).where(USERS.id == user_id)
        assert scalar_alone(read) == before + 1  # sees the change not yet committed
        assert first_alone(read) == (before + 1,)
        assert driver_connection().info.transaction_status == TransactionStatus.INTRANS
        db.session.rollback()
        assert auth_version(database_uri, user_id) == before


def test_a_read_alone_in_a_session_with_no_transaction_leaves_it_without_one(app, user_id):
    with app.app_context():
        db.session.get_bind()  # a session made, no transaction begun
        assert scalar_alone(sa.select(USERS.login).where(USERS.id == user_id)) == "solo"
        assert not db.session().in_transaction()


def _pool_connections_are_as_before() -> None:
    with db.engine.connect() as connection:
        conn = connection.connection.dbapi_connection
        assert conn is not None and conn.autocommit is False
        assert conn.info.transaction_status == TransactionStatus.IDLE


def test_a_failed_read_alone_raises_as_sqlalchemy_would_and_leaves_the_connection_usable(app, user_id):
    with app.app_context():
        with pytest.raises(sa.exc.DataError):
            first_alone(sa.select(sa.literal(1) / sa.literal(0)))
        _pool_connections_are_as_before()
        assert scalar_alone(sa.select(USERS.login).where(USERS.id == user_id)) == "solo"


@contextmanager
def invalidations() -> Iterator[list[BaseException | None]]:
    """The pool's connections discarded while inside (the exception each was discarded for)."""
    seen: list[BaseException | None] = []

    def invalidated(_dbapi_connection, _record, exception) -> None:
        seen.append(exception)

    sa.event.listen(db.engine, "invalidate", invalidated)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "invalidate", invalidated)


def test_a_read_alone_whose_connection_the_server_ends_raises_503s_error_and_drops_it(app, user_id):
    with app.app_context():
        with invalidations() as discarded, pytest.raises(sa.exc.OperationalError) as raised:
            first_alone(sa.select(sa.func.pg_terminate_backend(sa.func.pg_backend_pid())))
        assert raised.value.connection_invalidated
        assert len(discarded) == 1  # at once, not left for the next check-out to find
        _pool_connections_are_as_before()
        assert scalar_alone(sa.select(USERS.login).where(USERS.id == user_id)) == "solo"


def test_a_read_alone_with_an_in_list_is_rendered_for_its_values(app, user_id):
    with app.app_context():
        logins = sa.select(USERS.login).where(USERS.id.in_([user_id, -1]))
        assert first_alone(logins) == ("solo",)
        assert first_alone(sa.select(USERS.login).where(USERS.id.in_([-1, -2]))) is None


def test_a_read_alone_on_the_session_runs_on_its_connection_outside_a_transaction(app, user_id, database_uri):
    with app.app_context():
        pid = first_alone(sa.select(sa.func.pg_backend_pid()), on_session=True)
        conn = driver_connection()
        assert pid == (conn.info.backend_pid,)  # the connection the change after it uses
        assert conn.info.transaction_status == TransactionStatus.IDLE and conn.autocommit is False
        before = auth_version(database_uri, user_id)
        db.session.execute(bump(user_id))
        # Once a transaction is under way, the read runs in it.
        read = sa.select(USERS.auth_version).where(USERS.id == user_id)
        assert first_alone(read, on_session=True) == (before + 1,)
        db.session.rollback()
        assert auth_version(database_uri, user_id) == before


def test_a_read_alone_on_the_session_whose_connection_the_server_ends_raises_503s_error(app, user_id):
    with app.app_context():
        with invalidations() as discarded, pytest.raises(sa.exc.OperationalError) as raised:
            first_alone(sa.select(sa.func.pg_terminate_backend(sa.func.pg_backend_pid())), on_session=True)
        assert raised.value.connection_invalidated
        assert len(discarded) == 1
        db.session.rollback()
        assert first_alone(sa.select(USERS.login).where(USERS.id == user_id), on_session=True) == ("solo",)
        db.session.remove()
        _pool_connections_are_as_before()


def test_a_change_alone_on_the_session_runs_on_the_drivers_cursor_and_commits_by_itself(app, user_id, database_uri):
    with app.app_context():
        before = auth_version(database_uri, user_id)
        with executed_through_sqlalchemy(db.engine) as executed:
            row = first_alone(bump(user_id).returning(USERS.auth_version), on_session=True)
        assert row == (before + 1,)
        assert executed == []  # not through SQLAlchemy's execution
        assert driver_connection().info.transaction_status == TransactionStatus.IDLE
        assert auth_version(database_uri, user_id) == before + 1  # committed before any commit()


def test_a_statement_with_a_python_side_default_runs_alone_through_sqlalchemy(app, database_uri):
    # users.created_at has a Python-side default, which SQLAlchemy's execution fills in: on
    # the driver's cursor the insert would break the column's NOT NULL.
    with app.app_context():
        insert = sa.insert(users_table).values(login="defaulted", password_hash="x").returning(USERS.created_at)
        [created_at] = first_alone(insert, on_session=True) or [None]
        assert created_at is not None
        end_alone()
    with connected(database_uri) as conn:
        assert fetch_one(conn, "SELECT created_at FROM users WHERE login = 'defaulted'") == (created_at,)


def test_a_hand_in_inserts_its_order_on_the_drivers_cursor(app, user_id):
    # Every column with a Python-side default is named; a new one left out would put the
    # insert back on SQLAlchemy's execution.
    with app.app_context():
        with executed_through_sqlalchemy(db.engine) as executed:
            submission = submit_order(user_id, "12345678903")
        assert submission.accepted and executed == []
        assert submit_order(user_id, "12345678903") == Submission(submission.order_id, accepted=False)
        row = first_alone(
            sa.select(ORDERS.status, ORDERS.attempts, ORDERS.check_token).where(ORDERS.id == submission.order_id)
        )
        assert row == ("NEW", 0, NEW_ORDER_TOKEN)


def test_ending_changes_that_ran_alone_keeps_the_connection_and_commits_nothing(app, user_id, database_uri):
    with app.app_context():
        before = auth_version(database_uri, user_id)
        run_alone(bump(user_id))
        pid = driver_connection().info.backend_pid
        end_alone()
        assert db.session().in_transaction()  # the session holds its connection still…
        assert driver_connection().info.backend_pid == pid
        assert driver_connection().info.transaction_status == TransactionStatus.IDLE  # …in no transaction
        assert auth_version(database_uri, user_id) == before + 1


def test_ending_changes_of_which_one_ran_in_a_transaction_commits_it(app, user_id, database_uri):
    with app.app_context():
        before = auth_version(database_uri, user_id)
        db.session.execute(bump(user_id))
        run_alone(bump(user_id))  # in the transaction under way
        end_alone()
        assert not db.session().in_transaction()
        assert auth_version(database_uri, user_id) == before + 2
