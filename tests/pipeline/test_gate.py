"""The shared gate: pause after a 429, pacing at the published limit, the learned estimate."""

import threading
import time

import pytest

from gophermart.accrual import gate as accrual_gate
from gophermart.accrual.gate import (
    LOWER_PER_SECOND,
    PACE_SAFETY,
    RAISE,
    RELAX_AFTER,
    RELAX_STEP,
    RELAX_STEPS,
    RedisGate,
    gate_table,
    relaxed_rate,
)
from tests.support.racing import fire_together


def test_unlimited_gate_lets_everything_through(gate):
    assert all(gate.acquire() == 0 for _ in range(50))
    state = gate.state()
    assert not state.constrained
    assert state.budget(horizon=1, unlimited=500) == 500


def test_pause_stops_every_request_until_it_ends(gate):
    until = gate.pause(1.0)
    wait = gate.acquire()
    assert 0.5 < wait <= 1.0
    assert gate.state().constrained
    assert gate.state().budget(horizon=0.5, unlimited=500) == 0
    time.sleep(wait + 0.05)
    assert gate.acquire() == 0
    assert until > 0


def test_a_shorter_pause_never_cuts_a_longer_one(gate):
    long_end = gate.pause(5.0)
    assert gate.pause(1.0) == pytest.approx(long_end, abs=0.01)
    assert gate.acquire() > 4


def test_pacing_at_the_published_limit(gate):
    gate.set_limit(600)  # 10 per second, paced at 95 % of it
    granted, started = 0, time.monotonic()
    while time.monotonic() - started < 1.0:
        wait = gate.acquire()
        if wait == 0:
            granted += 1
        else:
            assert wait <= 1 / (10 * PACE_SAFETY) + 0.01
            time.sleep(wait)
    # One-token burst plus 9.5 per second; generous bounds for a busy machine.
    assert 7 <= granted <= 12
    assert gate.state().budget(horizon=1.0, unlimited=500) <= 11


def test_no_burst_right_after_a_pause(gate):
    gate.set_limit(60)
    gate.pause(0.3)
    time.sleep(0.35)
    assert gate.acquire() > 0.5  # the bucket restarted empty at the pause's end


def test_an_order_still_pending_raises_the_estimate_above_its_age(gate):
    assert gate.state().calc_estimate == 1.0
    assert gate.observe_calculation(3.0, pending=True, probe=False) == pytest.approx(3.0 * RAISE)
    # Many orders pending at about the same age raise it once, not once per order.
    for _ in range(20):
        gate.observe_calculation(3.0, pending=True, probe=False)
    assert gate.state().calc_estimate == pytest.approx(3.0 * RAISE)
    gate.observe_calculation(2.0, pending=True, probe=False)  # tells nothing new
    assert gate.state().calc_estimate == pytest.approx(3.0 * RAISE)


def test_orders_final_at_once_lower_the_estimate_per_second_not_per_order(gate):
    started = time.monotonic()
    for _ in range(50):
        gate.observe_calculation(5.0, pending=False, probe=True)
    time.sleep(0.15)
    lowered = gate.observe_calculation(5.0, pending=False, probe=True)
    elapsed = time.monotonic() - started
    # By the time that passed (5 % a second), not by 5 % for each of the 51 answers.
    assert (1 - LOWER_PER_SECOND) ** (elapsed + 0.01) <= lowered <= (1 - LOWER_PER_SECOND) ** 0.15


def test_no_probing_while_requests_are_scarce_but_a_final_answer_still_bounds_it(gate):
    gate.observe_calculation(5.0, pending=False, probe=True)
    time.sleep(0.3)
    assert gate.observe_calculation(5.0, pending=False, probe=False) == 1.0
    assert gate.observe_calculation(0.4, pending=False, probe=False) == pytest.approx(0.4)


def test_answers_learnt_at_the_same_moment_are_not_lost(gate, monkeypatch):
    ages = [1.0 + i / 10 for i in range(8)]
    # Each answer, on its first try, waits between reading the estimate and writing the
    # new one until every answer has read it: unguarded, all writes but one would be lost.
    everyone_read = threading.Barrier(len(ages), timeout=10)
    first_try = threading.local()
    compute = accrual_gate.next_estimate

    def once_everyone_read(*args):
        if not getattr(first_try, "done", False):
            first_try.done = True
            everyone_read.wait()
        return compute(*args)

    monkeypatch.setattr(accrual_gate, "next_estimate", once_everyone_read)
    fire_together(len(ages), lambda i: gate.observe_calculation(ages[i], pending=True, probe=False))
    assert gate.state().calc_estimate == pytest.approx(max(ages) * RAISE)


def test_accrual_calls_are_counted_across_workers(gate):
    for outcome in ("Final", "Final", "RateLimited"):
        gate.count_call(outcome)
    assert gate.call_counts() == {"Final": 2, "RateLimited": 1}


def quiet_for(gate, seconds: float) -> None:
    """As if `seconds` more had passed since the last 429 (without waiting for them)."""
    if isinstance(gate, RedisGate):
        key = RedisGate.PREFIX + "rate_set_at"
        gate.redis.set(key, float(gate.redis.get(key)) - seconds)
    else:
        with gate.engine.begin() as conn:
            conn.execute(gate_table.update().values(rate_set_at=gate_table.c.rate_set_at - seconds))


LEARNED = 60 / 60 * PACE_SAFETY  # "No more than 60 requests per minute"


def test_a_learned_limit_relaxes_a_step_per_quiet_period_until_unlimited(gate):
    gate.set_limit(60)
    assert gate.state().rate == pytest.approx(LEARNED)
    quiet_for(gate, RELAX_AFTER - 5)
    assert gate.state().rate == pytest.approx(LEARNED)
    quiet_for(gate, 10)
    assert gate.state().rate == pytest.approx(LEARNED * RELAX_STEP)
    # The pace itself follows, not only the state shown: after the one-token burst the next
    # token is 1 / rate away, less the time that passed between the two calls.
    started = time.monotonic()
    assert gate.acquire() == 0
    wait = gate.acquire()
    between = time.monotonic() - started
    assert 1 / (LEARNED * RELAX_STEP) - between - 0.01 <= wait <= 1 / (LEARNED * RELAX_STEP) + 0.01
    quiet_for(gate, RELAX_AFTER)
    assert gate.state().rate == pytest.approx(LEARNED * RELAX_STEP**2)
    quiet_for(gate, RELAX_AFTER * (RELAX_STEPS - 2))
    state = gate.state()
    assert state.rate == 0 and not state.constrained
    assert all(gate.acquire() == 0 for _ in range(20))


def test_a_new_429_starts_the_quiet_period_over(gate):
    gate.set_limit(60)
    quiet_for(gate, RELAX_AFTER * 3 + 5)
    assert gate.state().rate == pytest.approx(LEARNED * RELAX_STEP**3)
    gate.pause(5.0)  # a 429 without a limit in its text
    assert gate.state().rate == pytest.approx(LEARNED)
    quiet_for(gate, RELAX_AFTER * RELAX_STEPS)
    assert gate.state().rate == 0
    gate.pause(1.0)  # inside the longer pause, which it does not cut: it still counts
    assert gate.state().rate == pytest.approx(LEARNED)
    assert gate.acquire() > 4
    gate.set_limit(120)  # a 429 with a new limit: that one, from now
    quiet_for(gate, RELAX_AFTER - 5)
    assert gate.state().rate == pytest.approx(2 * LEARNED)


def test_relaxed_rate_steps():
    assert relaxed_rate(0.0, 10 * RELAX_AFTER) == 0  # no limit learned: unlimited
    assert relaxed_rate(1.0, -5) == 1.0  # clocks apart: no step
    assert relaxed_rate(1.0, RELAX_AFTER) == RELAX_STEP
    assert relaxed_rate(1.0, RELAX_AFTER * RELAX_STEPS - 1) == pytest.approx(RELAX_STEP ** (RELAX_STEPS - 1))
    assert relaxed_rate(1.0, RELAX_AFTER * RELAX_STEPS) == 0
