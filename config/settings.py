"""Service settings: flag > environment variable > default, checked once at start-up.

Every setting has one typed coercer, so a bad value stops start-up with one line that
names the setting and says what is wrong with it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


def parse_address(value: str) -> tuple[str, int]:
    """`host:port`; a bare `:port` means all interfaces."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port, for example localhost:8080 or :8080")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def address(value: str) -> str:
    parse_address(value)
    return value.strip()


def normalize_database_uri(value: str) -> str:
    """Accept postgres:// and postgresql:// URIs; use the psycopg2 driver for both.

    postgresql+psycopg:// (psycopg 3, the service's driver before) is taken as psycopg2 too,
    so a deployment's existing URI keeps working; any other driver (asyncpg, pg8000) is
    refused: psycopg2 is the only PostgreSQL driver the service ships and is tested on.
    """
    value = value.strip()
    scheme, sep, rest = value.partition("://")
    if not sep or not rest:
        raise ValueError("expected a URI such as postgresql://user:pass@host:5432/db")
    scheme = scheme.lower()
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        return "postgresql+psycopg2://" + rest
    if scheme.startswith(("postgres+", "postgresql+")):
        driver = scheme.partition("+")[2]
        raise ValueError(
            f"unsupported PostgreSQL driver {driver!r}; the service runs on psycopg2:"
            " use postgresql:// (or postgresql+psycopg2://)"
        )
    if scheme == "sqlite":
        return value
    raise ValueError(f"unsupported database scheme {scheme!r}; use postgresql:// or sqlite://")


def normalize_accrual_address(value: str) -> str:
    """Accept the address with or without scheme and trailing slash."""
    value = value.strip().rstrip("/")
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected a base URL such as http://localhost:8081")
    return value


def normalize_redis_url(value: str) -> str:
    value = value.strip()
    if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("expected a URL such as redis://localhost:6379/0")
    return value


def positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive whole number")
    return number


def non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be a whole number, 0 or more")
    return number


def positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be a positive number")
    return number


def choice(*allowed: str):
    """A coercer accepting one of `allowed`, in any case (given back as written there)."""
    canonical = {name.lower(): name for name in allowed}

    def coerce(value: str) -> str:
        try:
            return canonical[value.strip().lower()]
        except KeyError:
            raise ValueError(f"must be one of {', '.join(allowed)}") from None

    return coerce


log_level = choice("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
log_format = choice("auto", "json", "text")  # auto: text on a terminal, JSON otherwise
password_hash_cost = choice("standard", "low")
# sync: one request at a time per process, behind a buffering proxy; gthread: threads, keep-alive.
web_worker_class = choice("sync", "gthread")


def boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def rate_limit(value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ValueError("expected a rate such as 10/minute or 10 per 5 minutes") from None
    return value.strip()


def text(value: str) -> str:
    return value


def _setting(env: str, coerce: Callable[[str], object], default: object, flag: str | None = None, metavar: str = ""):
    return field(default=default, metadata={"env": env, "coerce": coerce, "flag": flag, "metavar": metavar})


@dataclass(frozen=True)
class Settings:
    run_address: str = _setting("RUN_ADDRESS", address, "localhost:8080", flag="-a", metavar="HOST:PORT")
    database_uri: str | None = _setting("DATABASE_URI", normalize_database_uri, None, flag="-d", metavar="URI")
    accrual_system_address: str | None = _setting(
        "ACCRUAL_SYSTEM_ADDRESS", normalize_accrual_address, None, flag="-r", metavar="URL"
    )
    redis_url: str | None = _setting("REDIS_URL", normalize_redis_url, None)
    secret_key: str | None = _setting("SECRET_KEY", text, None)
    instance_dir: str = _setting("INSTANCE_DIR", text, str(DEFAULT_INSTANCE_DIR))
    token_ttl_seconds: int = _setting("TOKEN_TTL_SECONDS", positive_int, 7 * 24 * 3600)
    session_cookie_secure: bool = _setting("SESSION_COOKIE_SECURE", boolean, False)
    log_level: str = _setting("LOG_LEVEL", log_level, "INFO")
    log_format: str = _setting("LOG_FORMAT", log_format, "auto")
    web_workers: int = _setting("WEB_WORKERS", positive_int, 4)
    web_threads: int = _setting("WEB_THREADS", positive_int, 4)
    web_worker_class: str = _setting("WEB_WORKER_CLASS", web_worker_class, "gthread")
    worker_concurrency: int = _setting("WORKER_CONCURRENCY", positive_int, 4)
    db_pool_size: int = _setting("DB_POOL_SIZE", positive_int, 10)
    max_body_bytes: int = _setting("MAX_BODY_BYTES", positive_int, 64 * 1024)
    password_hash_cost: str = _setting("PASSWORD_HASH_COST", password_hash_cost, "standard")
    accrual_timeout_seconds: float = _setting("ACCRUAL_TIMEOUT_SECONDS", positive_float, 5.0)
    simulator_address: str = _setting("SIMULATOR_ADDRESS", address, "localhost:8081")
    # A guesser is throttled per (login, address) and per address long before the cap of a
    # login alone, which only a guesser with many addresses reaches (and it locks the owner out).
    login_failures_per_login_and_address: str = _setting(
        "LOGIN_FAILURES_PER_LOGIN_AND_ADDRESS", rate_limit, "10 per 5 minutes"
    )
    login_failures_per_login: str = _setting("LOGIN_FAILURES_PER_LOGIN", rate_limit, "100 per 5 minutes")
    login_failures_per_address: str = _setting("LOGIN_FAILURES_PER_ADDRESS", rate_limit, "30 per minute")
    registrations_per_address: str = _setting("REGISTRATIONS_PER_ADDRESS", rate_limit, "200 per minute")
    sweep_interval_seconds: float = _setting("SWEEP_INTERVAL_SECONDS", positive_float, 1.0)
    # Where /metrics is served apart from the API (which then answers 404 for it); unset,
    # the API serves it, publicly.
    metrics_address: str | None = _setting("METRICS_ADDRESS", address, None)
    # Proxies in front whose X-Forwarded-For is believed; 0 ignores the header, which a client
    # could otherwise fill in to choose its own address.
    trusted_proxies: int = _setting("TRUSTED_PROXIES", non_negative_int, 0)

    @property
    def bind(self) -> tuple[str, int]:
        return parse_address(self.run_address)

    @property
    def resolved_database_uri(self) -> str:
        """The configured database, or the embedded SQLite file in the instance folder."""
        if self.database_uri:
            # Again here: a URI handed in as an override skipped the coercer, and SQLAlchemy's
            # own default PostgreSQL driver is not the one the service runs on.
            return normalize_database_uri(self.database_uri)
        return f"sqlite:///{Path(self.instance_dir) / 'gophermart.sqlite3'}"


def flag_fields() -> list[Field]:
    """The settings a command-line flag can set (-a, -d, -r): name, flag, metavar, env."""
    return [spec for spec in fields(Settings) if spec.metadata["flag"]]


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gophermart", add_help=False, exit_on_error=False)
    for spec in flag_fields():
        parser.add_argument(spec.metadata["flag"], dest=spec.name, default=None)
    return parser


def load_settings(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, str | None] | None = None,
    **overrides: object,
) -> Settings:
    """Settings from flags (highest), then the environment, then defaults. The flags come
    from `argv`, or already parsed as `flags` ({setting name: value}, as the console script
    has them), coerced alike."""
    environ = os.environ if environ is None else environ
    try:
        parsed, unknown = _argument_parser().parse_known_args(list(argv or []))
    except argparse.ArgumentError as exc:
        raise SettingsError(str(exc)) from None
    if unknown:
        raise SettingsError(f"unknown argument {unknown[0]!r}; the flags are -a, -d and -r")
    given = {**vars(parsed), **{name: value for name, value in (flags or {}).items() if value is not None}}
    values: dict[str, Any] = {}
    for spec in fields(Settings):
        env_name = spec.metadata["env"]
        raw = given.get(spec.name)
        source = spec.metadata["flag"]
        if raw is None:
            raw, source = environ.get(env_name), env_name
        if raw is None or (raw == "" and spec.default is None):
            continue
        try:
            values[spec.name] = spec.metadata["coerce"](raw)
        except ValueError as exc:
            raise SettingsError(f"{env_name} ({source}) = {raw!r}: {exc}") from None
    values.update(overrides)
    return Settings(**values)


def redacted(uri: str) -> str:
    """A database or Redis URI fit for a log line: the password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(uri).render_as_string(hide_password=True)
