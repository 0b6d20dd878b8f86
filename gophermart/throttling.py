"""Throttling of password guessing and mass registration (Flask-Limiter).

Failed logins count per login and per client address; a successful login costs nothing,
and a throttled login is free again once its window has slid past (5 minutes by default),
so a guesser cannot lock a user out for long. Counters are shared through Redis when it
is configured, else kept per process.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_limiter.util import get_remote_address

from gophermart.extensions import limiter


def register_throttling(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "gophermart:limits")
    # A broken limiter store must not take logins down with it.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _login_key() -> str:
    body = request.get_json(silent=True, force=True)
    login = body.get("login") if isinstance(body, dict) else None
    return f"login:{login}" if isinstance(login, str) else f"address:{get_remote_address()}"


def _setting(name: str):
    return lambda: getattr(current_app.config["SETTINGS"], name)


limit_failed_logins = [
    limiter.limit(_setting("login_failures_per_login"), key_func=_login_key, deduct_when=_failed, scope="login-per-login"),
    limiter.limit(_setting("login_failures_per_address"), deduct_when=_failed, scope="login-per-address"),
]
limit_registrations = limiter.limit(_setting("registrations_per_address"), scope="register-per-address")


def throttle_failed_logins(view):
    for decorate in limit_failed_logins:
        view = decorate(view)
    return view
