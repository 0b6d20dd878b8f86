"""The project's Redis transport for Celery (gophermart.redis_broker); `redis_client` empties
the test database first."""

import kombu

from gophermart import redis_broker


def test_redis_urls_use_the_projects_transport_with_one_client_per_pool(redis_url, redis_client):
    with kombu.Connection(redis_url) as connection:
        channel = connection.default_channel
        assert isinstance(channel, redis_broker.Channel)
        client = channel._create_client()
        assert channel._create_client() is client  # not a new client for every command
        channel._pool = None  # as after a reconnect: a new pool, so a new client
        assert channel._create_client() is not client
        queue = connection.SimpleQueue("gophermart-test-broker")
        for n in range(3):
            queue.put({"n": n})
        assert [queue.get(timeout=1).payload["n"] for _ in range(3)] == [0, 1, 2]
        queue.close()
