"""Handing in an order queues its first check, timed by the learned calculation time."""

import json
import logging
import uuid
from datetime import timedelta

import celery.app.amqp
import pytest
import sqlalchemy as sa

from gophermart.accrual import queueing
from gophermart.accrual.checks import MAX_FIRST_CHECK_DELAY
from gophermart.accrual.queueing import ESTIMATE_READ_INTERVAL, REQUEST_ID_HEADER, file_broker_dir
from gophermart.accrual.tasks import check_order
from gophermart.extensions import db
from gophermart.models import NEW_ORDER_TOKEN, QUEUED_CHECK_GRACE_SECONDS, Order, utcnow
from tests.support.factories import order_id_of


@pytest.fixture
def published(app, monkeypatch):
    """What hand-ins publish to the broker, as (order id, countdown)."""
    calls = []
    task = app.extensions["celery"].tasks[check_order.name]
    monkeypatch.setattr(task, "apply_async", lambda args, countdown, **_options: calls.append((args[0], countdown)))
    return calls


def stored_order_id(app, number: str) -> int:
    with app.app_context():
        return order_id_of(number)


def set_estimate(app, seconds: float) -> None:
    with app.app_context():
        db.session.execute(sa.text("UPDATE accrual_gate SET calc_estimate = :s"), {"s": seconds})
        db.session.commit()


@pytest.mark.parametrize(("estimate", "countdown"), [(0.4, 0.4), (2.0, 2.0), (40.0, MAX_FIRST_CHECK_DELAY)])
def test_first_check_is_queued_for_when_the_calculation_is_likely_done(
    app, client, register, published, estimate, countdown
):
    set_estimate(app, estimate)
    token = register()
    assert client.post("/api/user/orders", data="12345678903", headers={"Authorization": token}).status_code == 202
    assert published == [(stored_order_id(app, "12345678903"), pytest.approx(countdown))]
    # A repeat of the same number queues nothing more.
    assert client.post("/api/user/orders", data="12345678903", headers={"Authorization": token}).status_code == 200
    assert len(published) == 1


def test_with_the_broker_down_the_order_is_accepted_and_left_to_the_sweep(app, client, register, monkeypatch, caplog):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(app.extensions["celery"].tasks[check_order.name], "apply_async", broker_down)
    caplog.set_level(logging.WARNING)
    response = client.post("/api/user/orders", data="12345678903", headers={"Authorization": register()})
    assert response.status_code == 202
    assert any(r.msg == "could not queue the order's check; the sweep will" for r in caplog.records)
    with app.app_context():
        due = db.session.get_one(Order, stored_order_id(app, "12345678903")).next_check_at
    assert utcnow() < due <= utcnow() + timedelta(seconds=QUEUED_CHECK_GRACE_SECONDS)


def test_the_estimate_is_read_from_the_gate_at_most_once_a_second(app, client, register, published, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(queueing, "monotonic", lambda: clock[0])  # the hand-in's clock only
    token = register()

    def hand_in(number: str) -> float:
        assert client.post("/api/user/orders", data=number, headers={"Authorization": token}).status_code == 202
        return published[-1][1]

    set_estimate(app, 2.0)
    assert hand_in("12345678903") == pytest.approx(2.0)
    set_estimate(app, 0.5)
    clock[0] += ESTIMATE_READ_INTERVAL / 2
    assert hand_in("4561261212345467") == pytest.approx(2.0)  # this process read it just now
    clock[0] += ESTIMATE_READ_INTERVAL
    assert hand_in("79927398713") == pytest.approx(0.5)


def test_the_message_names_the_check_its_arguments_and_the_hand_in(app, client, register, monkeypatch):
    """What an operator sees of a queued check in flower and in the worker's lines, written
    by the service: Celery's safe repr of arbitrary arguments is not asked for."""

    def not_asked(*_args, **_kwargs):
        raise AssertionError("Celery's saferepr was asked for the message's arguments")

    monkeypatch.setattr(celery.app.amqp, "saferepr", not_asked)
    story = f"hand-in-{uuid.uuid4().hex}"  # the broker's folder outlives a test: this one's message
    response = client.post(
        "/api/user/orders", data="12345678903", headers={"Authorization": register(), "X-Request-ID": story}
    )
    assert response.status_code == 202
    folder = file_broker_dir(app.config["SETTINGS"].instance_dir)
    messages = [json.loads(path.read_text()) for path in folder.rglob("*.msg")]
    [headers] = [m["headers"] for m in messages if m["headers"].get(REQUEST_ID_HEADER) == story]
    assert headers["task"] == check_order.name
    order_id = stored_order_id(app, "12345678903")
    assert (headers["argsrepr"], headers["kwargsrepr"]) == (repr((order_id, NEW_ORDER_TOKEN)), "{}")
