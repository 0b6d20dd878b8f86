import random
import threading
from decimal import Decimal

import pytest

from accrual_sim.calculation import Good, Mechanic
from accrual_sim.engine import (
    ENDPOINT_GOODS,
    ENDPOINT_ORDER_STATUS,
    ENDPOINT_ORDERS,
    Engine,
    per_minute,
)
from accrual_sim.settings import SettingError, SimConfig

D = Decimal


def make_engine(clock, **knobs) -> Engine:
    return Engine(SimConfig(**{"calc_seconds": 3.0, **knobs}), clock=clock)


def status(engine, number):
    result = engine.poll(number)
    assert result.code == 200, result
    return result.body


def test_status_progression_over_the_calculation_time(clock):
    engine = make_engine(clock, calc_seconds=3.0)
    engine.add_mechanic(Mechanic("Bork", D(10), "%"))
    assert engine.add_order("18", (Good("Bork kettle", D(5000)),)) == 202
    assert status(engine, "18") == {"order": "18", "status": "REGISTERED"}
    clock.advance(0.999)
    assert status(engine, "18")["status"] == "REGISTERED"
    clock.advance(0.001)
    assert status(engine, "18")["status"] == "PROCESSING"
    clock.advance(1.999)
    assert status(engine, "18") == {"order": "18", "status": "PROCESSING"}
    clock.advance(0.001)
    assert status(engine, "18") == {"order": "18", "status": "PROCESSED", "accrual": D(500)}
    clock.advance(1000)
    assert status(engine, "18")["accrual"] == D(500)


def test_zero_calculation_time_is_final_at_once(clock):
    engine = make_engine(clock, calc_seconds=0)
    engine.add_order("18", (Good("x", D(1)),))
    assert status(engine, "18")["status"] == "PROCESSED"


def test_calculation_time_is_taken_at_registration(clock):
    engine = make_engine(clock, calc_seconds=1.0)
    engine.add_order("18", (Good("x", D(1)),))
    engine.configure({"calc_seconds": 100})
    clock.advance(1.0)
    assert status(engine, "18")["status"] == "PROCESSED"


def test_both_spec_examples(clock):
    engine = make_engine(clock)
    engine.add_mechanic(Mechanic("Pringles", D(10), "%"))
    engine.add_mechanic(Mechanic("Coca-Cola", D("12.5"), "pt"))
    engine.add_mechanic(Mechanic("Acme", D(5), "%"))
    engine.add_order(
        "12345678903",
        (Good("Tefal kettle", D(7000)), Good("Pringles bacon", D("147.5")), Good("Coca-Cola Zero", D(55))),
    )
    engine.add_order("9278923470", (Good("TV Acme", D("14599.50")),))
    clock.advance(3)
    assert status(engine, "12345678903")["accrual"] == D("27.25")
    assert status(engine, "9278923470")["accrual"] == D("729.98")


def test_no_reward_is_processed_without_accrual(clock):
    engine = make_engine(clock)
    engine.add_mechanic(Mechanic("Bork", D(10), "%"))
    engine.add_mechanic(Mechanic("Free", D(0), "pt"))
    engine.add_order("18", (Good("Tefal kettle", D(7000)), Good("Free bag", D(1))))
    clock.advance(3)
    assert status(engine, "18") == {"order": "18", "status": "PROCESSED"}


def test_empty_goods_end_invalid(clock):
    engine = make_engine(clock)
    engine.add_order("18", ())
    assert status(engine, "18")["status"] == "REGISTERED"
    clock.advance(3)
    assert status(engine, "18") == {"order": "18", "status": "INVALID"}


def test_mechanics_count_when_registered_by_the_end_of_the_calculation(clock):
    engine = make_engine(clock, calc_seconds=3.0)
    engine.add_order("18", (Good("Bork Acme", D(100)),))
    clock.advance(2.0)
    engine.add_mechanic(Mechanic("Bork", D(10), "%"))  # during the calculation: counts
    clock.advance(2.0)
    engine.add_mechanic(Mechanic("Acme", D(5), "%"))  # after it ended: does not
    assert status(engine, "18")["accrual"] == D(10)


def test_duplicates_and_unknown_orders(clock):
    engine = make_engine(clock)
    assert engine.add_mechanic(Mechanic("Bork", D(10), "%")) == 200
    assert engine.add_mechanic(Mechanic("Bork", D(1), "pt")) == 409
    assert engine.add_mechanic(Mechanic("bork", D(1), "pt")) == 200
    assert engine.add_order("18", ()) == 202
    assert engine.add_order("18", (Good("x", D(1)),)) == 409
    assert engine.poll("26").code == 204


@pytest.mark.parametrize(
    ("limit", "window", "expected"),
    [(3, 2.0, 90), (100, 60.0, 100), (5, 8.0, 38), (1, 3600.0, 1), (2, 0.5, 240), (7, 60.0, 7)],
)
def test_per_minute_rounds_half_up(limit, window, expected):
    assert per_minute(limit, window) == expected


def test_fixed_window_and_retry_after(clock):
    engine = make_engine(clock, rate_limit=3, rate_window=10.0)
    for _ in range(3):
        assert engine.poll("26").code == 204
        clock.advance(1.0)
    clock.advance(-0.5)  # t = 2.5 from the window's start
    limited = engine.poll("26")
    assert limited.code == 429
    assert limited.retry_after == 8  # ceil(10 - 2.5)
    assert limited.limit_message == "No more than 18 requests per minute allowed"
    clock.advance(7.4)  # t = 9.9
    assert engine.poll("26").retry_after == 1  # ceil(0.1)
    clock.advance(0.0999)  # t = 9.9999
    assert engine.poll("26").retry_after == 1  # at least 1
    clock.advance(0.0001)  # t = 10: a new window opens with this request
    for _ in range(3):
        assert engine.poll("26").code == 204
    assert engine.poll("26").retry_after == 10
    stats = engine.stats()
    assert stats["rate_limited"] == 4
    assert stats["requests"][ENDPOINT_ORDER_STATUS] == {"204": 6, "429": 4}


def test_window_opens_with_the_first_request_after_a_quiet_time(clock):
    engine = make_engine(clock, rate_limit=1, rate_window=10.0)
    clock.advance(7)
    assert engine.poll("26").code == 204
    clock.advance(9)
    assert engine.poll("26").retry_after == 1
    clock.advance(1)
    assert engine.poll("26").code == 204


def test_rate_limit_applies_only_to_status_requests(clock):
    engine = make_engine(clock, rate_limit=1, rate_window=10.0)
    assert engine.poll("26").code == 204
    assert engine.poll("26").code == 429
    assert engine.add_mechanic(Mechanic("Bork", D(10), "%")) == 200
    assert engine.add_order("18", ()) == 202


def test_requests_during_an_announced_pause_are_counted(clock):
    engine = make_engine(clock, rate_limit=1, rate_window=10.0)
    engine.poll("26")
    clock.advance(2.5)
    assert engine.poll("26").retry_after == 8  # pause until t = 10.5
    assert engine.stats()["during_pause"] == 0
    clock.advance(2.5)  # t = 5
    assert engine.poll("26").code == 429
    clock.advance(5.2)  # t = 10.2: a new window, but the announced pause has not elapsed
    assert engine.poll("26").code == 204
    assert engine.stats()["during_pause"] == 2
    clock.advance(0.4)  # t = 10.6: the pause is over
    engine.configure({"rate_limit": 0})
    assert engine.poll("26").code == 204
    stats = engine.stats()
    assert stats["during_pause"] == 2
    assert stats["pause_remaining_seconds"] == 0


def test_faults(clock):
    engine = make_engine(clock, fault_rate=1.0)
    engine.add_order("18", ())
    assert [engine.poll("18").code for _ in range(5)] == [500] * 5
    assert engine.add_order("26", ()) == 202
    engine.configure({"fault_rate": 0})
    assert engine.poll("18").code == 200
    stats = engine.stats()
    assert stats["faults"] == 5
    assert stats["requests"][ENDPOINT_ORDER_STATUS] == {"200": 1, "500": 5}


def test_seeded_faults_repeat(clock):
    engine = make_engine(clock, fault_rate=0.5, random_seed=42)
    first = [engine.poll("26").code for _ in range(40)]
    engine.configure({"random_seed": 42})
    assert [engine.poll("26").code for _ in range(40)] == first
    assert 0 < first.count(500) < 40
    assert set(first) == {204, 500}


def test_rate_limit_is_decided_before_faults(clock):
    engine = make_engine(clock, fault_rate=1.0, rate_limit=1, rate_window=10)
    assert engine.poll("26").code == 500
    assert engine.poll("26").code == 429


def test_latency_is_returned_for_every_answer(clock):
    engine = make_engine(clock, latency_ms=250, rate_limit=1)
    assert engine.poll("26").delay_seconds == 0.25
    assert engine.poll("26").delay_seconds == 0.25


def test_counters_and_reset(clock):
    engine = make_engine(clock, rate_limit=2, rate_window=10)
    engine.add_mechanic(Mechanic("Bork", D(10), "%"))
    engine.add_mechanic(Mechanic("Bork", D(10), "%"))
    engine.record(ENDPOINT_GOODS, 400)
    engine.add_order("18", (Good("Bork", D(1)),))
    engine.add_order("26", ())
    engine.record(ENDPOINT_ORDERS, 400)
    engine.poll("18")
    engine.poll("18")
    engine.poll("34")
    clock.advance(3)
    stats = engine.stats()
    assert stats["requests"] == {
        ENDPOINT_GOODS: {"200": 1, "400": 1, "409": 1},
        ENDPOINT_ORDERS: {"202": 2, "400": 1},
        ENDPOINT_ORDER_STATUS: {"200": 2, "429": 1},
    }
    assert stats["order_gets"] == {"total": 3, "distinct_orders": 2, "by_order": {"18": 2, "34": 1}}
    assert stats["rate_limited"] == 1
    assert stats["during_pause"] == 0
    assert stats["mechanics"] == 1
    assert stats["orders"] == {"total": 2, "REGISTERED": 0, "PROCESSING": 0, "PROCESSED": 1, "INVALID": 1}
    assert stats["config"]["rate_limit"] == 2
    assert stats["uptime_seconds"] == 3.0

    engine.reset()
    stats = engine.stats()
    assert stats["requests"] == {ENDPOINT_GOODS: {}, ENDPOINT_ORDERS: {}, ENDPOINT_ORDER_STATUS: {}}
    assert stats["order_gets"]["total"] == 0
    assert stats["rate_limited"] == 0
    assert stats["mechanics"] == 1 and stats["orders"]["total"] == 2
    assert engine.poll("18").code == 200  # the rate-limit window was reset too

    engine.reset(state=True)
    stats = engine.stats()
    assert stats["mechanics"] == 0 and stats["orders"]["total"] == 0
    assert engine.poll("18").code == 204


def test_configure_validates_and_restarts_the_window(clock):
    engine = make_engine(clock, rate_limit=1, rate_window=60)
    engine.poll("26")
    assert engine.poll("26").code == 429
    with pytest.raises(SettingError):
        engine.configure({"rate_limit": -1})
    with pytest.raises(SettingError):
        engine.configure({"rate_limit": 5, "bogus": 1})
    assert engine.config.rate_limit == 1  # nothing changed
    engine.configure({"rate_limit": 2})
    assert [engine.poll("26").code for _ in range(3)] == [204, 204, 429]
    engine.configure({"latency_ms": 5})  # other knobs keep the window
    assert engine.poll("26").code == 429


def test_in_flight_tracking(clock):
    engine = make_engine(clock)
    with engine.in_flight(), engine.in_flight():
        assert engine.stats()["in_flight"] == {"current": 2, "max": 2}
    assert engine.stats()["in_flight"] == {"current": 0, "max": 2}


def test_thread_safe_counting_and_limit(clock):
    engine = Engine(SimConfig(rate_limit=100, rate_window=60), clock=clock, rng=random.Random(1))
    codes = []
    lock = threading.Lock()

    def worker():
        mine = [engine.poll("26").code for _ in range(250)]
        with lock:
            codes.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes.count(204) == 100
    assert codes.count(429) == 1900
    stats = engine.stats()
    assert stats["order_gets"]["total"] == 2000
    assert stats["requests"][ENDPOINT_ORDER_STATUS] == {"204": 100, "429": 1900}
