"""Throttling of password guessing and mass registration (Flask-Limiter).

Failed logins count per (login, client address), per client address, and — with a much
higher cap — per login alone: a guesser is stopped at its own address while the owner, from
any other address, still gets in; only a guesser spread over many addresses meets the cap
of the login alone. A successful login costs nothing, and a throttled login is free again
once its window has slid past. The client address is the peer's, or the one the trusted
proxies wrote into X-Forwarded-For (TRUSTED_PROXIES, applied by ProxyFix in create_app).
Counters are shared through Redis when it is configured, else kept per process.
"""

from __future__ import annotations

from functools import partial

from flask import Flask, Response, current_app, request
from flask.globals import request_ctx
from flask_limiter.util import get_remote_address

from gophermart.extensions import limiter


def register_throttling(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "gophermart:limits")
    # A broken limiter store must not take logins down with it.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
    _hook_only_limited_requests(app)


# Where Flask-Limiter keeps a request's state (`Limiter.context`): there only once a limit
# was looked at in this request.
_LIMITER_STATE = "_limiter_request_context"


def _hook_only_limited_requests(app: Flask) -> None:
    """Take Flask-Limiter out of the requests it has nothing to do with.

    It hooks into every request: before it, a check of the application, default and
    blueprint limits; after it, the rate limit headers and the deductions of failed
    logins; at teardown, clearing its state. The service declares limits on the views
    that need them and nowhere else, and a decorated view checks its own limits when it
    is called, so for every other request the hooks found nothing to do, at a price
    (bench/FINDINGS.md). Here the check before the request goes, and the
    other two run only when the request has limiter state. With limits of any other
    kind configured, everything stays as Flask-Limiter set it up.
    """
    manager = limiter.limit_manager
    if (
        manager.application_limits
        or manager.default_limits
        or getattr(manager, "_blueprint_limits", True)
        or getattr(limiter, "_meta_limits", True)
    ):
        return

    def ours(hook) -> bool:  # a bound method of the limiter, or a partial of one of its methods
        return getattr(hook, "__self__", None) is limiter or (isinstance(hook, partial) and hook.args[:1] == (limiter,))

    app.before_request_funcs[None] = [f for f in app.before_request_funcs.get(None, []) if not ours(f)]
    for hooks, passthrough in ((app.after_request_funcs, True), (app.teardown_request_funcs, False)):
        hooks[None] = [_when_limited(f, passthrough) if ours(f) else f for f in hooks.get(None, [])]


def _when_limited(hook, passthrough: bool):
    def guarded(arg):
        if hasattr(request_ctx._get_current_object(), _LIMITER_STATE):  # type: ignore[attr-defined]  # a LocalProxy
            return hook(arg)
        return arg if passthrough else None

    return guarded


def _failed(response: Response) -> bool:
    return response.status_code == 401


# Longer logins are refused (400) and never counted; the cut only bounds the key's size.
_LOGIN_KEY_CHARS = 256


def _login() -> str | None:
    body = request.get_json(silent=True, force=True)
    login = body.get("login") if isinstance(body, dict) else None
    return login[:_LOGIN_KEY_CHARS] if isinstance(login, str) else None


def _login_key() -> str:
    login = _login()
    return f"login:{login}" if login is not None else f"address:{get_remote_address()}"


def _login_and_address_key() -> str:
    login = _login()
    address = f"address:{get_remote_address()}"
    return f"{address}|login:{login}" if login is not None else address


def _setting(name: str):
    return lambda: getattr(current_app.config["SETTINGS"], name)


limit_failed_logins = [
    limiter.limit(
        _setting("login_failures_per_login_and_address"),
        key_func=_login_and_address_key,
        deduct_when=_failed,
        scope="login-per-login-and-address",
    ),
    limiter.limit(
        _setting("login_failures_per_login"), key_func=_login_key, deduct_when=_failed, scope="login-per-login"
    ),
    limiter.limit(_setting("login_failures_per_address"), deduct_when=_failed, scope="login-per-address"),
]
limit_registrations = limiter.limit(_setting("registrations_per_address"), scope="register-per-address")


def throttle_failed_logins(view):
    for decorate in limit_failed_logins:
        view = decorate(view)
    return view
