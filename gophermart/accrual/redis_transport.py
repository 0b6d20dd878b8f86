"""kombu's Redis transport, made to survive a broker that disappears mid-read, and to
publish without setting up a new Redis client each time.

On a broker connection loss the Celery worker closes the consumer's channel twice: once
while collecting the broken connection, then again after that connection has let go of
its transport. When Redis is down and a BRPOP is pending, kombu's `Channel.close` fails
on draining that BRPOP before it marks the channel closed, so the second close tries to
restore the unacknowledged messages through the released connection and raises
`AttributeError` — not a connection error, so the worker stops with "Unrecoverable
error" instead of reconnecting. Here a dead connection simply has nothing to drain, the
first close completes, and the worker keeps retrying until Redis is back.

Importing this module makes it the transport of `redis://` and `rediss://` URLs in this
process; the URLs themselves stay as they are, as flower and the logs expect.
"""

from __future__ import annotations

from queue import Empty

from kombu.transport import TRANSPORT_ALIASES, redis


class Channel(redis.Channel):
    _shared_client = None

    def _create_client(self, asynchronous=False):
        # kombu makes a new redis-py client for every command (a publish, an ack), and
        # setting one up — its table of some 170 response callbacks — was a large share of
        # publishing a task (bench/FINDINGS.md). One client per connection pool serves them all: redis-py
        # clients are thread-safe and take a connection from the pool for each command.
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        if self._shared_client is None or self._shared_client.connection_pool is not pool:
            self._shared_client = super()._create_client()
        return self._shared_client

    def _brpop_read(self, **options):
        try:
            return super()._brpop_read(**options)
        except self.connection_errors:
            if self._closing:  # nothing to drain from a dead connection: finish closing
                raise Empty() from None
            raise


class Transport(redis.Transport):
    Channel = Channel


for _scheme in ("redis", "rediss"):
    TRANSPORT_ALIASES[_scheme] = f"{__name__}:Transport"
