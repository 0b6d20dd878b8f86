"""The gate every accrual request passes: one pause and one pace shared by all workers.

- After a `429`, nobody sends anything until the announced `Retry-After` has passed.
- From then on requests are paced by a token bucket at the published limit (with a
  safety margin), so further `429`s are rare.
- The learned limit relaxes while no `429` comes: every RELAX_AFTER seconds of quiet the
  pace rises by a step, and after RELAX_STEPS steps it is unlimited again (the accrual
  system may have raised its limit). Each `429` starts the quiet period over. The steps
  are worked out from the time of the last `429` whenever the pace is read, so nothing
  has to run to relax it.
- It also keeps the learned calculation time, so orders are checked when they are
  likely final (see `next_estimate`).

State lives in Redis when REDIS_URL is set (atomic Lua scripts on Redis' own clock), and
otherwise in the `accrual_gate` table of the service's database (atomic conditional
UPDATEs), for the embedded single-machine run.
"""

from __future__ import annotations

import time
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

# Pace a little under the published limit: the accrual system counts in fixed windows.
PACE_SAFETY = 0.95
BURST = 1.0
DEFAULT_CALC_ESTIMATE = 1.0
MIN_CALC_ESTIMATE, MAX_CALC_ESTIMATE = 0.05, 60.0
RAISE = 1.2  # an order still pending at age a: its calculation takes longer than a
LOWER_PER_SECOND = 0.05  # probe earlier by this share per second of orders final at once,
LOWER_SECONDS_PER_ANSWER = 0.2  # by a fifth of that at most per answer (a trickle of orders)
# Probing upwards slowly: a step that overshoots costs one 429 and its pause per quiet period.
RELAX_AFTER = 300.0
RELAX_STEP = 1.25
RELAX_STEPS = 8  # 1.25 ** 8 ≈ 6 times the learned pace, 40 quiet minutes: unlimited again


class AccrualGate(Protocol):
    def acquire(self) -> float:
        """0 and a request may go now; else the seconds to wait (nothing was taken)."""

    def pause(self, seconds: float) -> float:
        """Stop every request for `seconds` (never shortening a longer pause); returns the end."""

    def set_limit(self, per_minute: int) -> None:
        """Pace all workers together below `per_minute` requests per minute from now on."""

    def state(self) -> GateState: ...

    def observe_calculation(self, age: float, pending: bool, probe: bool) -> float:
        """An order was still pending, or already final, `age` seconds after its upload;
        `probe`: may the estimate be lowered to find out whether checks could come earlier.
        Returns the new estimate."""

    def count_call(self, outcome: str) -> None:
        """One more accrual request with this outcome (for metrics, across all workers)."""

    def call_counts(self) -> dict[str, int]: ...


def relaxed_rate(rate: float, quiet: float) -> float:
    """The pace `quiet` seconds after the last 429 taught `rate`; 0 means unlimited."""
    if rate <= 0:
        return 0.0
    steps = int(max(0.0, quiet) // RELAX_AFTER)
    return 0.0 if steps >= RELAX_STEPS else rate * RELAX_STEP**steps


class GateState:
    def __init__(self, now: float, pause_until: float, rate: float, tokens: float, calc_estimate: float):
        self.now, self.pause_until, self.rate, self.tokens = now, pause_until, rate, tokens
        self.calc_estimate = calc_estimate

    @property
    def paused_for(self) -> float:
        return max(0.0, self.pause_until - self.now)

    @property
    def constrained(self) -> bool:
        """Requests are scarce: paced, or paused."""
        return self.rate > 0 or self.paused_for > 0

    def budget(self, horizon: float, unlimited: int) -> int:
        """How many requests may go within `horizon` seconds."""
        if self.paused_for >= horizon:
            return 0
        if self.rate <= 0:
            return unlimited
        usable = horizon - self.paused_for
        return int(min(BURST, self.tokens) + usable * self.rate)


def next_estimate(
    current: float, lowered_at: float, now: float, age: float, pending: bool, probe: bool
) -> tuple[float, float]:
    """The calculation time to expect, and when it was last lowered, after one answer.

    Each answer bounds one order's calculation time: pending at age a means longer than a,
    final at age a means at most a. A pending answer raises the estimate above its age at
    once. Final answers lower it a little per second (not per order, or a steady stream of
    orders final at once would drive it to the floor within a second), probing whether
    checks could come earlier; the next pending answer then raises it again. Requests spent
    too early stay rare, and the estimate stays close above the real calculation time."""
    if pending:
        estimate = max(current, age * RAISE)
    else:
        if probe:
            elapsed = min(LOWER_SECONDS_PER_ANSWER, max(0.0, now - lowered_at))
            current *= (1 - LOWER_PER_SECOND) ** elapsed
            lowered_at = now
        estimate = min(current, age)
    return min(MAX_CALC_ESTIMATE, max(MIN_CALC_ESTIMATE, estimate)), lowered_at


# --- Redis -------------------------------------------------------------------------------

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# relaxed_rate, in Lua: KEYS[4] holds when the last 429 came; ARGV[2..4] the relax policy.
_RATE = """
local function relaxed_rate(now)
  local rate = tonumber(redis.call('GET', KEYS[2]) or '0')
  if rate <= 0 then return 0 end
  local steps = math.floor(math.max(0, now - tonumber(redis.call('GET', KEYS[4]) or '0')) / tonumber(ARGV[2]))
  if steps >= tonumber(ARGV[4]) then return 0 end
  return rate * tonumber(ARGV[3]) ^ steps
end
"""

_ACQUIRE = (
    _NOW
    + _RATE
    + """
local pause_until = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < pause_until then return tostring(pause_until - now) end
local rate = relaxed_rate(now)
if rate <= 0 then return '0' end
local burst = tonumber(ARGV[1])
local bucket = redis.call('HMGET', KEYS[3], 'tokens', 'at')
local tokens = tonumber(bucket[1] or ARGV[1])
local at = tonumber(bucket[2] or tostring(now))
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if tokens >= 1 then
  redis.call('HSET', KEYS[3], 'tokens', tostring(tokens - 1), 'at', tostring(now))
  return '0'
end
redis.call('HSET', KEYS[3], 'tokens', tostring(tokens), 'at', tostring(now))
return tostring((1 - tokens) / rate)
"""
)

_PAUSE = (
    _NOW
    + """
local pause_end = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if pause_end > current then
  redis.call('SET', KEYS[1], tostring(pause_end), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
  -- The bucket starts empty after a pause: no burst right at its end.
  redis.call('HSET', KEYS[2], 'tokens', '0', 'at', tostring(pause_end))
end
-- Every 429 starts the quiet period over, also one inside a longer pause.
redis.call('SET', KEYS[3], tostring(now))
return tostring(math.max(pause_end, current))
"""
)

_SET_LIMIT = (
    _NOW
    + """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], tostring(now))
"""
)

_STATE = (
    _NOW
    + _RATE
    + """
local bucket = redis.call('HMGET', KEYS[3], 'tokens', 'at')
local rate = relaxed_rate(now)
local tokens = tonumber(bucket[1] or ARGV[1])
local at = tonumber(bucket[2] or tostring(now))
tokens = math.min(tonumber(ARGV[1]), tokens + math.max(0, now - at) * rate)
return {tostring(now), redis.call('GET', KEYS[1]) or '0', tostring(rate), tostring(tokens),
        redis.call('GET', KEYS[5]) or ''}
"""
)

# next_estimate, in Lua: one round trip, atomic (concurrent answers cannot lose each other),
# instead of a WATCH-ed read and write. KEYS: the estimate, when it was last lowered;
# ARGV: age, pending, probe (1 or 0), then the policy's constants.
_OBSERVE = (
    _NOW
    + """
local current = tonumber(redis.call('GET', KEYS[1]) or ARGV[4])
local stored = redis.call('GET', KEYS[2])
local lowered_at = stored and tonumber(stored) or now  -- now itself: tostring would round it
local age = tonumber(ARGV[1])
local estimate
if ARGV[2] == '1' then
  estimate = math.max(current, age * tonumber(ARGV[5]))
else
  if ARGV[3] == '1' then
    local elapsed = math.min(tonumber(ARGV[7]), math.max(0, now - lowered_at))
    current = current * (1 - tonumber(ARGV[6])) ^ elapsed
    lowered_at = now
  end
  estimate = math.min(current, age)
end
estimate = math.min(tonumber(ARGV[9]), math.max(tonumber(ARGV[8]), estimate))
redis.call('SET', KEYS[1], string.format('%.17g', estimate))
redis.call('SET', KEYS[2], string.format('%.17g', lowered_at))
return string.format('%.17g', estimate)
"""
)


class RedisGate:
    PREFIX = "gophermart:accrual:"

    def __init__(self, client):
        self.redis = client
        pause_until, rate, bucket, calc_estimate, rate_set_at = (
            self.PREFIX + name for name in ("pause_until", "rate", "bucket", "calc_estimate", "rate_set_at")
        )
        self.pacing_keys = [pause_until, rate, bucket, rate_set_at]
        self.state_keys = [*self.pacing_keys, calc_estimate]
        self.pause_keys = [pause_until, bucket, rate_set_at]
        self.limit_keys = [rate, rate_set_at]
        self.estimate_key = calc_estimate
        self.lowered_at_key = self.PREFIX + "calc_estimate_lowered_at"
        self.calls_key = self.PREFIX + "calls"
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)
        self._set_limit = client.register_script(_SET_LIMIT)
        self._state = client.register_script(_STATE)
        self._observe = client.register_script(_OBSERVE)

    def _pacing_args(self) -> list[float]:
        return [BURST, RELAX_AFTER, RELAX_STEP, RELAX_STEPS]

    def acquire(self) -> float:
        return float(self._acquire(keys=self.pacing_keys, args=self._pacing_args()))

    def pause(self, seconds: float) -> float:
        return float(self._pause(keys=self.pause_keys, args=[seconds]))

    def set_limit(self, per_minute: int) -> None:
        self._set_limit(keys=self.limit_keys, args=[per_minute / 60.0 * PACE_SAFETY])

    def state(self) -> GateState:
        now, pause_until, rate, tokens, estimate = self._state(keys=self.state_keys, args=self._pacing_args())
        return GateState(
            float(now),
            float(pause_until),
            float(rate),
            float(tokens),
            float(estimate) if estimate else DEFAULT_CALC_ESTIMATE,
        )

    def observe_calculation(self, age: float, pending: bool, probe: bool) -> float:
        policy = [DEFAULT_CALC_ESTIMATE, RAISE, LOWER_PER_SECOND, LOWER_SECONDS_PER_ANSWER]
        args = [age, int(pending), int(probe), *policy, MIN_CALC_ESTIMATE, MAX_CALC_ESTIMATE]
        return float(self._observe(keys=[self.estimate_key, self.lowered_at_key], args=args))

    def count_call(self, outcome: str) -> None:
        self.redis.hincrby(self.calls_key, outcome, 1)

    def call_counts(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.redis.hgetall(self.calls_key).items()}


# --- Database ------------------------------------------------------------------------------

calls_table = sa.table("accrual_call_counts", sa.column("outcome", sa.String), sa.column("count", sa.Integer))

gate_table = sa.table(
    "accrual_gate",
    sa.column("id", sa.Integer),
    sa.column("pause_until", sa.Float),
    sa.column("rate", sa.Float),
    sa.column("tokens", sa.Float),
    sa.column("tokens_at", sa.Float),
    sa.column("calc_estimate", sa.Float),
    sa.column("calc_estimate_lowered_at", sa.Float),
    sa.column("rate_set_at", sa.Float),
)


def _relaxed_rate_sql(now: float):
    """relaxed_rate as SQL, one branch per step (neither SQLite nor portable SQL has pow)."""
    g = gate_table.c
    quiet = now - g.rate_set_at
    steps = [(quiet >= RELAX_AFTER * n, g.rate * RELAX_STEP**n) for n in range(RELAX_STEPS - 1, 0, -1)]
    return sa.case((quiet >= RELAX_AFTER * RELAX_STEPS, 0.0), *steps, else_=g.rate)


class DatabaseGate:
    """The same gate in one row of the service's database, for runs without Redis.

    Each change is a single conditional UPDATE, atomic on PostgreSQL and SQLite alike.
    It uses its own connections, never the caller's session transaction.
    """

    def __init__(self, engine: sa.Engine, clock=time.time):
        self.engine = engine
        self.clock = clock

    def acquire(self) -> float:
        now = self.clock()
        g = gate_table.c
        rate = _relaxed_rate_sql(now)
        refilled = g.tokens + (sa.bindparam("now", now) - g.tokens_at) * rate
        capped = sa.case((refilled > BURST, BURST), else_=refilled)
        with self.engine.begin() as conn:
            taken = conn.execute(
                gate_table.update()
                .where(g.id == 1, g.pause_until <= now, sa.or_(rate <= 0, refilled >= 1))
                .values(tokens=sa.case((rate <= 0, 0.0), else_=capped - 1), tokens_at=now)
            ).rowcount
        if taken:
            return 0.0
        state = self.state()
        if state.paused_for > 0:
            return state.paused_for
        return max(0.001, (1 - state.tokens) / state.rate) if state.rate > 0 else 0.001

    def pause(self, seconds: float) -> float:
        now = self.clock()
        until = now + seconds
        g = gate_table.c
        with self.engine.begin() as conn:
            conn.execute(
                gate_table.update()
                .where(g.id == 1, g.pause_until < until)
                .values(pause_until=until, tokens=0.0, tokens_at=until)
            )
            # Every 429 starts the quiet period over, also one inside a longer pause.
            conn.execute(gate_table.update().where(g.id == 1).values(rate_set_at=now))
        return max(until, self.state().pause_until)

    def set_limit(self, per_minute: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                gate_table.update()
                .where(gate_table.c.id == 1)
                .values(rate=per_minute / 60.0 * PACE_SAFETY, rate_set_at=self.clock())
            )

    def state(self) -> GateState:
        now = self.clock()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(gate_table).where(gate_table.c.id == 1)).one()
        rate = relaxed_rate(row.rate, now - row.rate_set_at)
        tokens = min(BURST, row.tokens + max(0.0, now - row.tokens_at) * rate)
        return GateState(now, row.pause_until, rate, tokens, row.calc_estimate)

    def observe_calculation(self, age: float, pending: bool, probe: bool) -> float:
        g = gate_table.c
        while True:
            now = self.clock()
            with self.engine.begin() as conn:
                current, read_lowered_at = conn.execute(
                    sa.select(g.calc_estimate, g.calc_estimate_lowered_at).where(g.id == 1)
                ).one()
                estimate, lowered_at = next_estimate(current, read_lowered_at or now, now, age, pending, probe)
                # Only if unchanged since it was read; else another worker's answer came in
                # between, and this one starts over so that neither is lost.
                if conn.execute(
                    gate_table.update()
                    .where(g.id == 1, g.calc_estimate == current, g.calc_estimate_lowered_at == read_lowered_at)
                    .values(calc_estimate=estimate, calc_estimate_lowered_at=lowered_at)
                ).rowcount:
                    return estimate

    def count_call(self, outcome: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(_insert_or_add(conn.dialect.name, outcome))

    def call_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                outcome: count for outcome, count in conn.execute(sa.select(calls_table.c.outcome, calls_table.c.count))
            }


def _insert_or_add(dialect_name: str, outcome: str):
    insert = (
        (postgresql if dialect_name == "postgresql" else sqlite).insert(calls_table).values(outcome=outcome, count=1)
    )
    return insert.on_conflict_do_update(index_elements=["outcome"], set_={"count": calls_table.c.count + 1})
