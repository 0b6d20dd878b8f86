"""Learning the accrual system's calculation time (gophermart.accrual.gate.next_estimate)."""

import heapq
import statistics

import pytest

from gophermart.accrual.gate import (
    LOWER_PER_SECOND,
    LOWER_SECONDS_PER_ANSWER,
    MAX_CALC_ESTIMATE,
    MIN_CALC_ESTIMATE,
    RAISE,
    next_estimate,
)


def test_a_pending_answer_raises_the_estimate_above_the_orders_age():
    assert next_estimate(1.0, 0.0, 10.0, age=2.0, pending=True, probe=False) == (2.0 * RAISE, 0.0)
    assert next_estimate(5.0, 0.0, 10.0, age=2.0, pending=True, probe=False) == (5.0, 0.0)


def test_final_answers_lower_it_by_the_time_elapsed_with_a_cap_per_answer():
    estimate, at = next_estimate(2.0, 10.0, 10.1, age=3.0, pending=False, probe=True)
    assert estimate == pytest.approx(2.0 * (1 - LOWER_PER_SECOND) ** 0.1) and at == 10.1
    # After an idle hour, one answer lowers it by a small step, not an hour's worth.
    estimate, _ = next_estimate(2.0, 10.0, 3610.0, age=3.0, pending=False, probe=True)
    assert estimate == pytest.approx(2.0 * (1 - LOWER_PER_SECOND) ** LOWER_SECONDS_PER_ANSWER)


def test_without_probing_a_final_answer_only_bounds_it_from_above():
    assert next_estimate(2.0, 10.0, 20.0, age=3.0, pending=False, probe=False) == (2.0, 10.0)
    assert next_estimate(2.0, 10.0, 20.0, age=1.5, pending=False, probe=False) == (1.5, 10.0)


def test_it_stays_within_its_bounds():
    assert next_estimate(0.01, 0.0, 1.0, age=0.001, pending=False, probe=True)[0] == MIN_CALC_ESTIMATE
    assert next_estimate(50.0, 0.0, 1.0, age=100.0, pending=True, probe=False)[0] == MAX_CALC_ESTIMATE


def simulate(calc: float, per_second: float, seconds: float, start: float):
    """Orders uploaded at a steady rate, each first checked when the estimate at its upload
    says (as the service queues it), put off without a request if the estimate has risen
    since, and, if still pending, checked again when the raised estimate says. Returns the
    estimates seen by the last half of the uploads, and the share of first requests that
    came too early."""
    estimate, lowered_at = start, 0.0
    events: list[tuple[float, str, float]] = []
    seen: list[float] = []
    early, first_checks = 0, 0
    for i in range(int(seconds * per_second)):
        uploaded = i / per_second
        heapq.heappush(events, (uploaded, "upload", uploaded))
    while events:
        now, kind, uploaded = heapq.heappop(events)
        if kind == "upload":
            seen.append(estimate)
            heapq.heappush(events, (now + estimate, "first", uploaded))
            continue
        age = now - uploaded
        pending = age < calc
        if kind == "first" and age < estimate - 0.05:  # too young
            heapq.heappush(events, (now + estimate - age, "first", uploaded))
            continue
        if kind == "first":
            first_checks += 1
            early += pending
            if pending:
                estimate, lowered_at = next_estimate(estimate, lowered_at, now, age, True, False)
                heapq.heappush(events, (now + max(estimate - age, 0.1), "again", uploaded))
                continue
        if not pending:
            estimate, lowered_at = next_estimate(estimate, lowered_at, now, age, False, True)
        else:
            heapq.heappush(events, (now + 1.0, "again", uploaded))
    return seen[len(seen) // 2 :], early / first_checks


@pytest.mark.parametrize("per_second", [2, 20, 200])
@pytest.mark.parametrize("calc", [0.3, 1.0, 2.5])
def test_under_a_steady_stream_it_settles_just_above_the_calculation_time(calc, per_second):
    estimates, early_share = simulate(calc, per_second, seconds=300.0, start=1.0)
    assert calc <= statistics.median(estimates) <= calc * 1.15
    assert max(estimates) <= calc * RAISE * 1.01
    assert early_share < 0.1  # requests spent on orders still being calculated
