"""The project's Redis transport for Celery (gophermart.accrual.redis_transport); `redis_client` empties
the test database first."""

import kombu

from config import load_settings
from gophermart.accrual import redis_transport
from gophermart.accrual.celery_app import celery_config
from gophermart.accrual.checks import MAX_DIRECT_RECHECK_DELAY, MAX_FIRST_CHECK_DELAY


def test_redis_urls_use_the_projects_transport_with_one_client_per_pool(redis_url, redis_client):
    with kombu.Connection(redis_url) as connection:
        channel = connection.default_channel
        assert isinstance(channel, redis_transport.Channel)
        client = channel._create_client()
        assert channel._create_client() is client  # not a new client for every command
        channel._pool = None  # as after a reconnect: a new pool, so a new client
        assert channel._create_client() is not client
        queue = connection.SimpleQueue("gophermart-test-broker")
        for n in range(3):
            queue.put({"n": n})
        assert [queue.get(timeout=1).payload["n"] for _ in range(3)] == [0, 1, 2]
        queue.close()


def test_no_countdown_comes_near_the_visibility_timeout():
    """Redis delivers a message again when it is not acknowledged within the visibility
    timeout, its countdown included: the longest countdown the service sets (a first check,
    a direct re-check; the sweep sets none) plus a task's hard time limit stays far below it."""
    config = celery_config(load_settings(argv=[], environ={"REDIS_URL": "redis://127.0.0.1:6379/0"}))
    longest = max(MAX_FIRST_CHECK_DELAY, MAX_DIRECT_RECHECK_DELAY) + config["task_time_limit"]
    assert longest * 10 < config["broker_transport_options"]["visibility_timeout"]
