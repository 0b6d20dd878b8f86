"""Fixtures for the accrual pipeline: the real simulator, Redis, and both gate stores."""

from __future__ import annotations

import pytest
import redis as redis_lib

from gophermart.accrual.client import AccrualClient
from gophermart.accrual.gate import DatabaseGate, RedisGate
from gophermart.extensions import db


@pytest.fixture
def redis_client(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="module")
def simulator_calc_seconds() -> float:
    return 0  # final at once: these tests drive each check by hand


@pytest.fixture
def accrual(sim):
    return AccrualClient(sim.url)


@pytest.fixture(params=["redis", "database"])
def gate(request, app):
    """The shared gate, in Redis and in the database (the run without Redis)."""
    if request.param == "redis":
        return RedisGate(request.getfixturevalue("redis_client"))
    with app.app_context():
        return DatabaseGate(db.engine)
