"""Garbage from the accrual system: its fault, recorded nowhere, asked again until sane.

A real HTTP server stands in for the accrual system (the simulator never breaks its
contract), with the real client, PostgreSQL and both gate stores.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from gophermart.accrual import checks
from gophermart.accrual.checks import BACKOFF_CAP, MAX_FAILURES
from gophermart.accrual.client import AccrualClient
from gophermart.extensions import db
from gophermart.models import Order, OrderStatus, User, utcnow
from gophermart.money import MAX_AMOUNT
from gophermart.services import ledger
from tests.support.factories import claim_due_orders, hand_in, make_due, order_and_balance, set_balance

NUMBER = "12345678903"
REFUSED = "accrual answer refused: nothing recorded, asking again with back-off"


class Answers:
    """The stand-in accrual system: answers each GET with the next queued (status, headers,
    body), the last one again once the queue is down to it; records the request order."""

    def __init__(self):
        self.queue: list[tuple[int, dict[str, str], bytes]] = []
        self.requests = 0
        self.client: AccrualClient  # set once the server listens

    def then(self, body: bytes, status: int = 200, **headers: str) -> Answers:
        self.queue.append((status, headers, body))
        return self

    def next(self) -> tuple[int, dict[str, str], bytes]:
        self.requests += 1
        return self.queue.pop(0) if len(self.queue) > 1 else self.queue[0]


@pytest.fixture
def answers():
    answers = Answers()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, headers, body = answers.next()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    answers.client = AccrualClient(f"http://127.0.0.1:{server.server_address[1]}")
    yield answers
    server.shutdown()
    server.server_close()


@pytest.fixture
def user_id(app, register):
    register("shopper")
    with app.app_context():
        return db.session.execute(sa.select(User.id).where(User.login == "shopper")).scalar_one()


def check(app, order_id, answers, gate):
    with app.app_context():
        return checks.run_check(order_id, answers.client, gate)


def order_row(app, order_id) -> Order:
    with app.app_context():
        order = db.session.get_one(Order, order_id)
        db.session.expunge(order)
        return order


def refusals(caplog) -> list[Any]:
    """The refusal lines (their `extra=` fields are attributes a LogRecord's type does not know)."""
    return [r for r in caplog.records if r.msg == REFUSED]


def answer(status: str, **fields) -> bytes:
    return json.dumps({"order": NUMBER, "status": status, **fields}).encode()


BAD_ANSWERS = {
    "accrual as a string": b'{"order": "12345678903", "status": "PROCESSED", "accrual": "500"}',
    "accrual as a boolean": b'{"order": "12345678903", "status": "PROCESSED", "accrual": true}',
    "negative accrual": b'{"order": "12345678903", "status": "PROCESSED", "accrual": -5}',
    "accrual beyond any balance": b'{"order": "12345678903", "status": "PROCESSED", "accrual": 1e13}',
    "another order's number": b'{"order": "79927398713", "status": "PROCESSED", "accrual": 500}',
    "unknown status": b'{"order": "12345678903", "status": "DONE", "accrual": 500}',
    "not JSON": b"<html>Bad gateway</html>",
    "not an object": b'["PROCESSED", 500]',
}


@pytest.mark.parametrize("body", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_a_bad_answer_is_asked_again_never_credited_never_parked_and_logged_once(
    app, user_id, answers, gate, body, caplog
):
    answers.then(body)
    order_id = hand_in(app, user_id, NUMBER)
    for _ in range(MAX_FAILURES + 2):  # more checks than would park a crashing order
        make_due(app, order_id)
        assert check(app, order_id, answers, gate) == "ContractViolation"
    order = order_row(app, order_id)
    assert (order.status, order.accrual, order.parked_at, order.failures) == (OrderStatus.NEW, None, None, 0)
    assert order.attempts == MAX_FAILURES + 2  # one request per check: no quick retries
    assert utcnow() < order.next_check_at <= utcnow() + timedelta(seconds=BACKOFF_CAP * 1.1)
    assert order_and_balance(app, order_id)[2] == 0
    [logged] = refusals(caplog)
    assert logged.levelno == logging.ERROR and (logged.order_id, logged.order_number) == (order_id, NUMBER)
    assert logged.problem == order.bad_answer
    assert gate.call_counts() == {"ContractViolation": MAX_FAILURES + 2}
    with app.app_context():
        assert claim_due_orders(10) == []  # re-scheduled, not parked: it comes back by itself
    # The accrual system comes to its senses: final, and credited once.
    answers.queue = [(200, {}, answer("PROCESSED", accrual=500))]
    make_due(app, order_id)
    assert check(app, order_id, answers, gate) == "PROCESSED"
    make_due(app, order_id)
    assert check(app, order_id, answers, gate) == "not due"
    assert order_and_balance(app, order_id) == (OrderStatus.PROCESSED, Decimal(500), Decimal(500))
    assert order_row(app, order_id).bad_answer is None


def test_a_bad_answer_after_a_sane_one_is_logged_again(app, user_id, answers, gate, caplog):
    bad = BAD_ANSWERS["accrual as a string"]
    answers.then(bad).then(bad).then(answer("PROCESSING")).then(BAD_ANSWERS["unknown status"])
    order_id = hand_in(app, user_id, NUMBER)
    outcomes = []
    for _ in range(4):
        make_due(app, order_id)
        outcomes.append(check(app, order_id, answers, gate))
    assert outcomes == ["ContractViolation", "ContractViolation", "Pending", "ContractViolation"]
    assert [r.problem for r in refusals(caplog)] == [
        "the accrual is not a JSON number: '500'",
        "unknown status 'DONE'",
    ]
    assert order_row(app, order_id).status is OrderStatus.PROCESSING  # kept by the bad answer


def test_an_accrual_under_half_a_cent_is_processed_without_points(app, register, client, answers, gate):
    bearer = register("pennywise")
    with app.app_context():
        user_id = db.session.execute(sa.select(User.id).where(User.login == "pennywise")).scalar_one()
    answers.then(answer("PROCESSED", accrual=0.004))
    order_id = hand_in(app, user_id, NUMBER)
    assert check(app, order_id, answers, gate) == "PROCESSED"
    assert order_and_balance(app, order_id) == (OrderStatus.PROCESSED, None, Decimal(0))
    [listed] = client.get("/api/user/orders", headers={"Authorization": bearer}).json
    assert listed["status"] == "PROCESSED" and "accrual" not in listed  # SPEC 3.3


def test_a_credit_the_balance_cannot_hold_is_refused_until_it_fits(app, user_id, answers, gate, caplog):
    answers.then(answer("PROCESSED", accrual=500))
    order_id = hand_in(app, user_id, NUMBER)
    set_balance(app, user_id, MAX_AMOUNT - 100)
    for _ in range(MAX_FAILURES + 2):
        make_due(app, order_id)
        assert check(app, order_id, answers, gate) == "CreditRefused"
    order = order_row(app, order_id)
    assert (order.status, order.accrual, order.parked_at, order.failures) == (OrderStatus.NEW, None, None, 0)
    assert order_and_balance(app, order_id)[2] == MAX_AMOUNT - 100
    [logged] = refusals(caplog)
    assert "would take the balance past" in logged.problem
    # Points spent: the credit fits, and is made once.
    set_balance(app, user_id, Decimal(1000))
    make_due(app, order_id)
    assert check(app, order_id, answers, gate) == "PROCESSED"
    make_due(app, order_id)
    assert check(app, order_id, answers, gate) == "not due"
    assert order_and_balance(app, order_id) == (OrderStatus.PROCESSED, Decimal(500), Decimal(1500))


def test_a_credit_up_to_the_exact_limit_is_made(app, user_id, answers, gate):
    answers.then(answer("PROCESSED", accrual=100))
    order_id = hand_in(app, user_id, NUMBER)
    set_balance(app, user_id, MAX_AMOUNT - 100)
    assert check(app, order_id, answers, gate) == "PROCESSED"
    assert order_and_balance(app, order_id)[2] == MAX_AMOUNT


def test_a_credit_beyond_any_balance_writes_nothing(app, user_id):
    order_id = hand_in(app, user_id, NUMBER)
    with app.app_context(), pytest.raises(ledger.CreditRefused):
        ledger.apply_final_status(order_id, OrderStatus.PROCESSED, MAX_AMOUNT + 1)
    assert order_and_balance(app, order_id) == (OrderStatus.NEW, None, Decimal(0))


class RecordingGate:
    """The real gate, noting what the order's row looked like when each call came."""

    def __init__(self, gate, app, order_id):
        self.gate, self.app, self.order_id, self.events = gate, app, order_id, []

    def __getattr__(self, name):
        return getattr(self.gate, name)

    def _row(self):
        with self.app.app_context(), db.engine.connect() as conn:  # not the check's session
            return conn.execute(
                sa.select(Order.attempts, Order.check_started_at.is_not(None)).where(Order.id == self.order_id)
            ).one()

    def pause(self, seconds):
        self.events.append(("pause", tuple(self._row())))
        return self.gate.pause(seconds)

    def count_call(self, outcome):
        self.events.append(("count " + outcome, tuple(self._row())))
        self.gate.count_call(outcome)


def test_a_429_pauses_every_worker_before_anything_else_is_written(app, user_id, answers, gate):
    answers.then(b"No more than 60 requests per minute allowed", status=429, Retry_After="5")
    order_id = hand_in(app, user_id, NUMBER)
    recording = RecordingGate(gate, app, order_id)
    assert check(app, order_id, answers, recording) == "RateLimited"
    # The pause came first, while the order's row still showed only the running check.
    assert recording.events == [("pause", (0, True)), ("count RateLimited", (0, True))]
    assert 4 < gate.state().paused_for <= 5
    assert order_row(app, order_id).attempts == 1
