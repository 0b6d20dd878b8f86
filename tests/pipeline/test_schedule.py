"""The schedule holds: a duplicate check message never asks ahead of the back-off, and the
sweep's claim reads only as many rows as it takes, however long the backlog."""

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from gophermart import create_app
from gophermart.accrual import checks, tasks
from gophermart.accrual.connections import accrual_client, accrual_gate
from gophermart.extensions import db
from gophermart.models import NEW_ORDER_TOKEN, Order, utcnow
from gophermart.services.orders import submit_order
from tests.support.database import test_settings
from tests.support.factories import order_id_of, user_id_of
from tests.support.simulator import register_at_simulator

TV = [{"description": "TV Acme 42", "price": Decimal("14599.50")}]
NUMBER = "12345678903"


@pytest.fixture(scope="module")
def simulator_calc_seconds() -> float:
    return 60  # every answer pending: the order keeps being re-scheduled


@pytest.fixture
def checking(app, sim, tmp_path):
    """The app as a worker runs it: pointed at the simulator (tables emptied by `app`)."""
    worker_app = create_app(
        test_settings(app.config["SETTINGS"].database_uri, tmp_path, accrual_system_address=sim.url)
    )
    yield worker_app
    with worker_app.app_context():
        db.engine.dispose()


@pytest.fixture
def order_id(app, register, sim):
    register("scheduled")
    register_at_simulator(sim, NUMBER, TV)
    with app.app_context():
        submit_order(user_id_of("scheduled"), NUMBER)
        order_id = order_id_of(NUMBER)
        # Old enough to be asked about at once.
        db.session.execute(
            sa.update(Order).where(Order.id == order_id).values(uploaded_at=utcnow() - timedelta(seconds=10))
        )
        db.session.commit()
        return order_id


def requests_for(sim, number: str = NUMBER) -> int:
    """Status requests the simulator answered about this order."""
    return sim.stats()["order_gets"]["by_order"].get(number, 0)


def check(app, order_id: int, token: int | None, queued: list | None = None) -> str:
    """A worker's check of a message carrying this token: the task itself, or (`queued`)
    its use case with the re-checks it queues collected."""
    with app.app_context():
        if queued is None:
            return tasks.check_order(order_id, token)
        return checks.run_check(
            order_id,
            accrual_client(),
            accrual_gate(),
            queue_recheck=lambda *call: queued.append(call),
            token=token,
        ).value


def test_a_duplicate_first_check_message_asks_nothing_ahead_of_the_back_off(checking, app, order_id, sim):
    before = requests_for(sim)
    queued: list = []
    assert check(checking, order_id, NEW_ORDER_TOKEN, queued) == "Pending"
    assert requests_for(sim) == before + 1
    # The same message delivered again (a redelivery, a re-queued first check): not due.
    assert check(checking, order_id, NEW_ORDER_TOKEN) == "not due"
    assert check(checking, order_id, NEW_ORDER_TOKEN) == "not due"
    assert requests_for(sim) == before + 1
    # The re-check the check queued carries the new token, and asks when it comes.
    [(queued_id, _delay, token)] = queued
    assert queued_id == order_id and token != NEW_ORDER_TOKEN
    assert check(checking, order_id, token) == "Pending"
    assert requests_for(sim) == before + 2


def test_a_message_the_sweep_took_over_no_longer_starts(checking, app, order_id, sim):
    queued: list = []
    assert check(checking, order_id, NEW_ORDER_TOKEN, queued) == "Pending"
    [(_id, _delay, late_token)] = queued  # this message waits past its grace…
    with app.app_context():
        db.session.execute(sa.update(Order).where(Order.id == order_id).values(next_check_at=utcnow()))
        db.session.commit()
        [(claimed_id, sweep_token)] = checks.claim_due_checks(10)  # …so the sweep claims the order
    assert claimed_id == order_id and sweep_token != late_token
    before = requests_for(sim)
    assert check(checking, order_id, late_token) == "not due"
    assert requests_for(sim) == before
    assert check(checking, order_id, sweep_token) == "Pending"
    assert requests_for(sim) == before + 1


def test_a_message_from_before_tokens_is_still_honoured(checking, app, order_id, sim):
    # Messages already queued by the previous release carry only the order id.
    before = requests_for(sim)
    assert check(checking, order_id, None) == "Pending"
    assert requests_for(sim) == before + 1


BACKLOG = 20_000


def test_the_sweeps_claim_stops_at_its_limit_without_sorting_the_backlog(app, register):
    register("backlogged")
    with app.app_context():
        user_id = user_id_of("backlogged")
        # Bulk rows the fast way: without the count triggers, then counted once.
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        db.session.execute(
            sa.text(
                "INSERT INTO orders (number, user_id, status, uploaded_at, updated_at, next_check_at)"
                " SELECT 'b' || g, :user_id, CASE WHEN g % 3 = 0 THEN 'PROCESSED' ELSE 'NEW' END,"
                " now() - g * interval '1 second', now(), now() - interval '1 minute'"
                " FROM generate_series(1, :n) g"
            ),
            {"user_id": user_id, "n": BACKLOG * 3 // 2},
        )
        db.session.execute(sa.text("SELECT order_counts_recount()"))
        db.session.commit()
        db.session.execute(sa.text("ANALYZE orders"))
        db.session.commit()
        compiled = checks.due_orders_query(500).compile(
            dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        with db.engine.connect() as conn:
            plan = "\n".join(
                row[0] for row in conn.exec_driver_sql(f"EXPLAIN ANALYZE {compiled}", dict(compiled.params))
            )
        assert "ix_orders_due_claim" in plan, plan
        assert "Sort" not in plan, plan
        assert len(checks.claim_due_checks(500)) == 500
