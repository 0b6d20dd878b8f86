"""End-to-end fixtures: the real processes (web, worker, beat) against PostgreSQL, Redis
and the bundled accrual simulator. The tests take `app` too: it empties the tables first."""

from __future__ import annotations

import pytest
import redis as redis_lib

from tests.support.processes import free_port, service_env
from tests.support.stacks import Stack


@pytest.fixture(scope="module")
def stack(database_uri, redis_url, simulator, tmp_path_factory):
    redis_lib.Redis.from_url(redis_url).flushdb()
    logs = tmp_path_factory.mktemp("stack-logs")
    env = service_env(
        database_uri,
        tmp_path_factory.mktemp("stack-instance"),
        REDIS_URL=redis_url,
        ACCRUAL_SYSTEM_ADDRESS=simulator.url,
        LOG_LEVEL="INFO",
        WORKER_CONCURRENCY="4",
    )
    running = Stack(env=env, port=free_port(), logs=logs)
    running.start_all()
    yield running
    running.stop_all()
