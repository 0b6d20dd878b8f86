"""The check use case against the real simulator, PostgreSQL and both gate stores."""

import logging
from datetime import timedelta
from decimal import Decimal

import pytest

from gophermart.accrual import checks
from gophermart.accrual.checks import (
    MAX_FAILURES,
    QUEUED_CHECK_GRACE_SECONDS,
)
from gophermart.accrual.client import AccrualClient
from gophermart.accrual.gate import RAISE, RedisGate
from gophermart.extensions import db
from gophermart.models import Order, OrderStatus, utcnow
from tests.support.database import executed_through_sqlalchemy
from tests.support.factories import (
    claim_due_orders,
    hand_in,
    luhn_number,
    make_due,
    order_and_balance,
    user_id_of,
)
from tests.support.racing import fire_together
from tests.support.simulator import register_at_simulator

TV = [{"description": "TV Acme 42", "price": Decimal("14599.50")}]
ACME = [{"match": "Acme", "reward": 5, "reward_type": "%"}]


@pytest.fixture
def user_id(app, register):
    register("shopper")
    with app.app_context():
        return user_id_of("shopper")


def run_check(app, order_id, accrual, gate):
    with app.app_context():
        return checks.run_check(order_id, accrual, gate)


def test_processed_credits_the_exact_accrual(app, user_id, sim, accrual, gate, caplog):
    caplog.set_level(logging.INFO)
    register_at_simulator(sim, "12345678903", TV, ACME)
    order_id = hand_in(app, user_id, "12345678903")
    assert run_check(app, order_id, accrual, gate) == "PROCESSED"
    assert order_and_balance(app, order_id) == (OrderStatus.PROCESSED, Decimal("729.98"), Decimal("729.98"))
    [call] = [r for r in caplog.records if r.msg == "accrual call"]
    assert (call.order_number, call.outcome, call.answer) == ("12345678903", "Final", "PROCESSED")
    [final] = [r for r in caplog.records if r.msg == "order final"]
    assert (final.order_id, final.status, final.accrual) == (order_id, "PROCESSED", "729.98")


def test_running_the_same_check_twice_credits_once(app, user_id, sim, accrual, gate):
    register_at_simulator(sim, "12345678903", TV, ACME)
    order_id = hand_in(app, user_id, "12345678903")
    run_check(app, order_id, accrual, gate)
    assert run_check(app, order_id, accrual, gate) == "not due"
    assert order_and_balance(app, order_id)[2] == Decimal("729.98")
    assert sim.stats()["order_gets"]["total"] == 1


def test_racing_checks_of_one_order_credit_once(app, user_id, sim, gate):
    register_at_simulator(sim, "12345678903", TV, ACME)
    order_id = hand_in(app, user_id, "12345678903")
    results = fire_together(10, lambda _: run_check(app, order_id, AccrualClient(sim.url), gate))
    assert order_and_balance(app, order_id) == (OrderStatus.PROCESSED, Decimal("729.98"), Decimal("729.98"))
    assert results.count("PROCESSED") == 1
    assert results.count("not due") == 9  # the others stood back: running or final
    assert sim.stats()["order_gets"]["total"] == 1


def test_final_status_is_guarded_even_when_two_answers_arrive(app, user_id):
    from gophermart.services.ledger import apply_final_status

    order_id = hand_in(app, user_id, "12345678903")
    with app.app_context():
        assert apply_final_status(order_id, OrderStatus.PROCESSED, Decimal("10"))
        assert not apply_final_status(order_id, OrderStatus.PROCESSED, Decimal("10"))
        assert not apply_final_status(order_id, OrderStatus.INVALID)
    assert order_and_balance(app, order_id) == (OrderStatus.PROCESSED, Decimal("10"), Decimal("10"))


def test_racing_final_answers_of_one_order_credit_once(app, user_id):
    from gophermart.services.ledger import apply_final_status

    order_id = hand_in(app, user_id, "12345678903")

    def finalise(_):
        with app.app_context():
            return apply_final_status(order_id, OrderStatus.PROCESSED, Decimal("10"))

    assert sorted(fire_together(10, finalise)) == [False] * 9 + [True]
    assert order_and_balance(app, order_id) == (OrderStatus.PROCESSED, Decimal("10"), Decimal("10"))


def test_a_final_check_runs_its_statements_on_the_drivers_cursor(app, user_id, sim, accrual, redis_client):
    """The claim and the final answer with its credit run alone on psycopg2's cursor: none
    goes through SQLAlchemy's execution (a column default added to one of them would)."""
    register_at_simulator(sim, "12345678903", TV, ACME)
    order_id = hand_in(app, user_id, "12345678903")
    with app.app_context(), executed_through_sqlalchemy(db.engine) as executed:
        assert checks.run_check(order_id, accrual, RedisGate(redis_client)) == "PROCESSED"
    assert executed == []
    assert order_and_balance(app, order_id) == (OrderStatus.PROCESSED, Decimal("729.98"), Decimal("729.98"))


def test_invalid_is_final_without_credit(app, user_id, sim, accrual, gate):
    register_at_simulator(sim, "12345678903", goods=[])
    order_id = hand_in(app, user_id, "12345678903")
    assert run_check(app, order_id, accrual, gate) == "INVALID"
    assert order_and_balance(app, order_id) == (OrderStatus.INVALID, None, Decimal("0"))


def test_processed_without_reward_has_no_accrual(app, user_id, sim, accrual, gate):
    register_at_simulator(sim, "12345678903", [{"description": "Plain kettle", "price": 100}])
    order_id = hand_in(app, user_id, "12345678903")
    assert run_check(app, order_id, accrual, gate) == "PROCESSED"
    assert order_and_balance(app, order_id) == (OrderStatus.PROCESSED, None, Decimal("0"))


def test_unknown_order_stays_new_and_is_rescheduled(app, user_id, sim, accrual, gate):
    order_id = hand_in(app, user_id, "12345678903")
    assert run_check(app, order_id, accrual, gate) == "NotRegistered"
    with app.app_context():
        order = db.session.get_one(Order, order_id)
        assert order.status is OrderStatus.NEW and order.attempts == 1
        assert utcnow() < order.next_check_at < utcnow() + timedelta(seconds=2)
    # Registered later: the next check finds it.
    register_at_simulator(sim, "12345678903", TV, ACME)
    make_due(app, order_id)
    assert run_check(app, order_id, accrual, gate) == "PROCESSED"


def test_a_young_order_is_checked_when_its_calculation_is_likely_done(app, user_id, sim, accrual, gate):
    register_at_simulator(sim, "12345678903", TV, ACME)
    order_id = hand_in(app, user_id, "12345678903", age=0)
    assert run_check(app, order_id, accrual, gate) == "too young"
    assert sim.stats()["order_gets"]["total"] == 0
    with app.app_context():
        order = db.session.get_one(Order, order_id)
        due_in = (order.next_check_at - utcnow()).total_seconds()
        assert 0.5 < due_in <= gate.state().calc_estimate


def test_registered_becomes_processing(app, user_id, sim, accrual, gate, caplog):
    caplog.set_level(logging.INFO)
    sim.configure(calc_seconds=30)
    register_at_simulator(sim, "12345678903", TV, ACME)
    order_id = hand_in(app, user_id, "12345678903")
    assert run_check(app, order_id, accrual, gate) == "Pending"
    assert order_and_balance(app, order_id)[0] is OrderStatus.PROCESSING
    [change] = [r for r in caplog.records if r.msg == "order status changed"]
    assert (change.order_id, getattr(change, "from"), change.status) == (order_id, "NEW", "PROCESSING")


def check_with_requeue(app, order_id, accrual, gate, requeue):
    with app.app_context():
        outcome = checks.run_check(order_id, accrual, gate, queue_recheck=requeue)
        return outcome, (db.session.get_one(Order, order_id).next_check_at - utcnow()).total_seconds()


def test_a_pending_order_is_queued_again_for_when_its_calculation_is_likely_done(app, user_id, sim, accrual, gate):
    sim.configure(calc_seconds=30)
    register_at_simulator(sim, "12345678903", TV, ACME)
    order_id = hand_in(app, user_id, "12345678903", age=2.0)
    queued = []
    outcome, due_in = check_with_requeue(app, order_id, accrual, gate, lambda *call: queued.append(call))
    assert outcome == "Pending"
    # Still calculating at 2 s: the estimate rises above that, and the re-check is timed by it.
    assert gate.state().calc_estimate == pytest.approx(2.0 * RAISE, abs=0.05)
    [(queued_id, delay, _token)] = queued
    assert queued_id == order_id and delay == pytest.approx(2.0 * (RAISE - 1), abs=0.05)
    # The sweep takes it over only if the queued check has not started well after it was due.
    assert due_in > delay + QUEUED_CHECK_GRACE_SECONDS - 1


def test_while_requests_are_scarce_re_checks_are_left_to_the_sweep(app, user_id, sim, accrual, gate):
    gate.set_limit(6000)
    register_at_simulator(sim, "12345678903", TV, ACME)
    order_id = hand_in(app, user_id, "12345678903", age=0)
    queued = []
    outcome, due_in = check_with_requeue(app, order_id, accrual, gate, lambda *call: queued.append(call))
    assert outcome == "too young" and queued == []
    assert 0 < due_in <= 1.0


def test_a_re_check_that_cannot_be_queued_falls_to_the_sweep(app, user_id, sim, accrual, gate, caplog):
    register_at_simulator(sim, "12345678903", TV, ACME)
    order_id = hand_in(app, user_id, "12345678903", age=0)

    def broker_down(order_id, delay):
        raise ConnectionError("broker unreachable")

    outcome, due_in = check_with_requeue(app, order_id, accrual, gate, broker_down)
    assert outcome == "too young"
    assert any(r.msg == "could not queue the order's re-check; the sweep will" for r in caplog.records)
    assert QUEUED_CHECK_GRACE_SECONDS < due_in <= QUEUED_CHECK_GRACE_SECONDS + 1.0


def test_rate_limit_pauses_every_worker_and_learns_the_limit(app, user_id, sim, accrual, gate):
    sim.configure(rate_limit=1, rate_window=3)
    first = hand_in(app, user_id, luhn_number(111))
    second = hand_in(app, user_id, luhn_number(112))
    run_check(app, first, accrual, gate)  # uses the window's one request
    assert run_check(app, second, accrual, gate) == "RateLimited"
    state = gate.state()
    assert 1 <= state.paused_for <= 3
    assert state.rate == pytest.approx(20 / 60 * 0.95)  # "No more than 20 requests per minute"
    with app.app_context():
        order = db.session.get_one(Order, second)
        assert order.status is OrderStatus.NEW
        assert order.next_check_at > utcnow() + timedelta(seconds=state.paused_for - 0.1)
    # During the pause no request leaves: checks are deferred, not sent.
    make_due(app, second)
    before = sim.stats()["order_gets"]["total"]
    assert run_check(app, second, accrual, gate) in ("Deferred", "too young")
    assert sim.stats()["order_gets"]["total"] == before
    assert sim.stats()["during_pause"] == 0


def test_server_errors_are_retried_then_rescheduled(app, user_id, sim, accrual, gate):
    sim.configure(fault_rate=1)
    order_id = hand_in(app, user_id, "12345678903")
    assert run_check(app, order_id, accrual, gate) == "Unavailable"
    with app.app_context():
        order = db.session.get_one(Order, order_id)
        assert order.status is OrderStatus.NEW and order.attempts == checks.QUICK_RETRIES
        assert order.failures == 0


def test_unreachable_accrual_system_changes_nothing(app, user_id, gate):
    order_id = hand_in(app, user_id, "12345678903")
    dead = AccrualClient("http://127.0.0.1:9", connect_timeout=0.2)
    assert run_check(app, order_id, dead, gate) == "Unavailable"
    assert order_and_balance(app, order_id)[0] is OrderStatus.NEW


def test_an_order_that_keeps_crashing_its_check_is_parked(app, user_id, sim, gate, caplog):
    class Exploding:
        def fetch(self, number):
            raise RuntimeError("boom")

    order_id = hand_in(app, user_id, "12345678903")
    for _ in range(MAX_FAILURES):
        make_due(app, order_id)
        with pytest.raises(RuntimeError):
            run_check(app, order_id, Exploding(), gate)
    make_due(app, order_id)
    assert run_check(app, order_id, Exploding(), gate) == "parked"
    assert "order parked" in caplog.text
    make_due(app, order_id)
    with app.app_context():
        assert claim_due_orders(10) == []
        assert checks.make_due_now([OrderStatus.NEW]) == 1
        assert claim_due_orders(10) == [order_id]


def test_sweep_claims_overdue_orders_oldest_first_and_leases_them(app, user_id):
    ids = [hand_in(app, user_id, luhn_number(300 + i)) for i in range(5)]
    with app.app_context():
        assert claim_due_orders(10) == []  # just handed in: their own check is queued
    for order_id in ids:
        make_due(app, order_id)
    with app.app_context():
        assert claim_due_orders(3) == ids[:3]
        assert claim_due_orders(10) == ids[3:]
        assert claim_due_orders(10) == []  # leased


def test_two_sweeps_at_once_never_claim_the_same_order(app, user_id):
    ids = [hand_in(app, user_id, luhn_number(400 + i)) for i in range(40)]
    for order_id in ids:
        make_due(app, order_id)

    def sweep(_):
        with app.app_context():
            return claim_due_orders(15)

    flat = [i for batch in fire_together(4, sweep) for i in batch]
    assert len(flat) == len(set(flat)) == 40
