"""Per-process connections to the pipeline's outside world, made once and kept on the app:
the accrual system's HTTP client, Redis, and the shared gate (in Redis or the database)."""

from __future__ import annotations

from flask import current_app

from gophermart.accrual.client import AccrualClient
from gophermart.accrual.gate import AccrualGate, DatabaseGate, RedisGate
from gophermart.extensions import db


def accrual_client() -> AccrualClient:
    ext = current_app.extensions
    if "accrual_client" not in ext:
        settings = current_app.config["SETTINGS"]
        if not settings.accrual_system_address:
            raise RuntimeError("ACCRUAL_SYSTEM_ADDRESS is not set: orders cannot be checked")
        ext["accrual_client"] = AccrualClient(
            settings.accrual_system_address, read_timeout=settings.accrual_timeout_seconds
        )
    return ext["accrual_client"]


def redis_client():
    """One client (with its connection pool) per process; None without Redis."""
    ext = current_app.extensions
    settings = current_app.config["SETTINGS"]
    if "redis" not in ext:
        ext["redis"] = redis_at(settings.redis_url) if settings.redis_url else None
    return ext["redis"]


def redis_at(url: str):
    """A client of the Redis at `url` with the service's timeouts: a Redis that stops
    answering fails the call in 2 s instead of holding it (also for beat, which has no app)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def accrual_gate() -> AccrualGate:
    ext = current_app.extensions
    if "accrual_gate" not in ext:
        settings = current_app.config["SETTINGS"]
        if settings.redis_url:
            ext["accrual_gate"] = RedisGate(redis_client())
        else:
            ext["accrual_gate"] = DatabaseGate(db.engine)
    return ext["accrual_gate"]
