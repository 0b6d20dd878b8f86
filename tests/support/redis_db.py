"""The tests' Redis: a database of its own per test worker."""

from __future__ import annotations

import os

REDIS_BASE = "redis://127.0.0.1:6379"


def redis_url_for(worker_id: str) -> str:
    """A Redis database of its own per test worker (1…13; 14 is the benchmarks').
    TEST_REDIS_DB_OFFSET shifts them, so that two runs on one machine use different ones."""
    worker = 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))
    index = 1 + (worker + int(os.environ.get("TEST_REDIS_DB_OFFSET", "0"))) % 13
    return f"{REDIS_BASE}/{index}"
