"""Typed settings of the simulator: command-line flag > environment variable > default.

A bad value raises :class:`SettingError`, whose text is one line naming the
setting (the flag or the variable it came from) and the reason.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

DEFAULT_ADDRESS = "localhost:8081"
DEFAULT_RATE_WINDOW = 60.0
DEFAULT_CALC_SECONDS = 1.5
DEFAULT_THREADS = 32
MAX_THREADS = 1024
MAX_LATENCY_MS = 600_000.0
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingError(ValueError):
    """A setting with a value that cannot be used."""


# --------------------------------------------------------------------------- values
# Each converter takes a raw value (a string from a flag or the environment, or a
# JSON value from the admin API) and returns the typed value or raises ValueError
# with the reason.


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("must be a number")
    if isinstance(raw, (int, float, Decimal)):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("must be a number") from None
    else:
        raise ValueError("must be a number")
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _whole(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("must be a whole number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, Decimal):
        if raw != raw.to_integral_value():
            raise ValueError("must be a whole number")
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
    raise ValueError("must be a whole number")


def rate_limit_value(raw: Any) -> int:
    value = _whole(raw)
    if value < 0:
        raise ValueError("must be 0 (off) or a positive whole number")
    return value


def rate_window_value(raw: Any) -> float:
    value = _number(raw)
    if value <= 0:
        raise ValueError("must be a positive number of seconds")
    return value


def calc_seconds_value(raw: Any) -> float:
    value = _number(raw)
    if value < 0:
        raise ValueError("must be a non-negative number of seconds")
    return value


def fault_rate_value(raw: Any) -> float:
    value = _number(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be a share between 0 and 1")
    return value


def latency_ms_value(raw: Any) -> float:
    value = _number(raw)
    if not 0.0 <= value <= MAX_LATENCY_MS:
        raise ValueError(f"must be between 0 and {MAX_LATENCY_MS:g} milliseconds")
    return value


def random_seed_value(raw: Any) -> int | None:
    if raw is None:
        return None
    return _whole(raw)


def threads_value(raw: Any) -> int:
    value = _whole(raw)
    if not 1 <= value <= MAX_THREADS:
        raise ValueError(f"must be between 1 and {MAX_THREADS}")
    return value


def log_level_value(raw: Any) -> str:
    if not isinstance(raw, str) or raw.strip().upper() not in LOG_LEVELS:
        raise ValueError("must be one of " + ", ".join(LOG_LEVELS))
    return raw.strip().upper()


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def bool_value(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError("must be one of " + ", ".join(_TRUE + _FALSE))


def address_value(raw: Any) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) to ``(host, port)``; a bare ``:port`` means all interfaces."""
    if not isinstance(raw, str):
        raise ValueError("must be host:port")
    text = raw.strip()
    if text.startswith("http://"):
        text = text[len("http://") :]
    text = text.rstrip("/")
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ValueError("must be host:port (or :port for all interfaces)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        host = "0.0.0.0"
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError("the port must be a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError("the port must be between 1 and 65535")
    return host, port


# --------------------------------------------------------------------------- runtime knobs


@dataclass(frozen=True)
class SimConfig:
    """The knobs that shape answers; they can also change at run time (``POST /admin/config``)."""

    rate_limit: int = 0
    rate_window: float = DEFAULT_RATE_WINDOW
    calc_seconds: float = DEFAULT_CALC_SECONDS
    fault_rate: float = 0.0
    latency_ms: float = 0.0
    random_seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> SimConfig:
        """A copy with ``changes`` (raw values) applied; unknown names and bad values raise SettingError."""
        typed = {}
        for name, raw in changes.items():
            converter = CONFIG_CONVERTERS.get(name)
            if converter is None:
                raise SettingError(f"unknown setting {name!r} (known: {', '.join(CONFIG_CONVERTERS)})")
            try:
                typed[name] = converter(raw)
            except ValueError as exc:
                raise SettingError(f"{name} {exc}") from None
        return replace(self, **typed)


CONFIG_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "rate_limit": rate_limit_value,
    "rate_window": rate_window_value,
    "calc_seconds": calc_seconds_value,
    "fault_rate": fault_rate_value,
    "latency_ms": latency_ms_value,
    "random_seed": random_seed_value,
}


# --------------------------------------------------------------------------- start-up settings


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    config: SimConfig
    seed_file: str | None
    demo: bool
    threads: int
    log_level: str

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class _Option:
    dest: str
    flags: tuple[str, ...]
    env: str
    convert: Callable[[Any], Any]
    help: str
    boolean: bool = False


OPTIONS = (
    _Option(
        "address",
        ("-a", "--address"),
        "RUN_ADDRESS",
        address_value,
        f"host:port to serve on, :port for all interfaces (default {DEFAULT_ADDRESS})",
    ),
    _Option(
        "rate_limit",
        ("--rate-limit",),
        "ACCRUAL_RATE_LIMIT",
        rate_limit_value,
        "requests to GET /api/orders/{number} allowed per window, 0 = off (default 0)",
    ),
    _Option(
        "rate_window",
        ("--rate-window",),
        "ACCRUAL_RATE_WINDOW",
        rate_window_value,
        f"rate-limit window in seconds (default {DEFAULT_RATE_WINDOW:g})",
    ),
    _Option(
        "calc_seconds",
        ("--calc-time",),
        "ACCRUAL_CALC_SECONDS",
        calc_seconds_value,
        f"seconds from registration to a final status (default {DEFAULT_CALC_SECONDS:g})",
    ),
    _Option(
        "fault_rate",
        ("--fault-rate",),
        "ACCRUAL_FAULT_RATE",
        fault_rate_value,
        "share (0..1) of GET /api/orders/{number} answered 500 (default 0)",
    ),
    _Option(
        "latency_ms",
        ("--latency-ms",),
        "ACCRUAL_LATENCY_MS",
        latency_ms_value,
        "milliseconds added to every GET /api/orders/{number} answer (default 0)",
    ),
    _Option(
        "random_seed",
        ("--random-seed",),
        "ACCRUAL_RANDOM_SEED",
        random_seed_value,
        "seed of the fault generator (default: unseeded)",
    ),
    _Option(
        "seed_file", ("--seed-file",), "ACCRUAL_SEED_FILE", str, "JSON file with mechanics and orders to load at start"
    ),
    _Option("demo", ("--demo",), "ACCRUAL_DEMO", bool_value, "load the bundled demo mechanics at start", boolean=True),
    _Option(
        "threads",
        ("--threads",),
        "ACCRUAL_THREADS",
        threads_value,
        f"threads serving requests (default {DEFAULT_THREADS})",
    ),
    _Option(
        "log_level",
        ("--log-level",),
        "LOG_LEVEL",
        log_level_value,
        "DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)",
    ),
)

_DEFAULTS: dict[str, Any] = {
    "address": address_value(DEFAULT_ADDRESS),
    "rate_limit": 0,
    "rate_window": DEFAULT_RATE_WINDOW,
    "calc_seconds": DEFAULT_CALC_SECONDS,
    "fault_rate": 0.0,
    "latency_ms": 0.0,
    "random_seed": None,
    "seed_file": None,
    "demo": False,
    "threads": DEFAULT_THREADS,
    "log_level": "INFO",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise SettingError(f"bad command line: {message}")


def build_parser(prog: str = "gophermart-accrual") -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description="Simulator of the Gophermart accrual system (in-memory, for tests and local runs).",
    )
    for option in OPTIONS:
        if option.boolean:
            parser.add_argument(
                *option.flags,
                dest=option.dest,
                default=None,
                action=argparse.BooleanOptionalAction,
                help=f"{option.help} [env {option.env}]",
            )
        else:
            parser.add_argument(
                *option.flags,
                dest=option.dest,
                default=None,
                metavar=option.env,
                help=f"{option.help} [env {option.env}]",
            )
    return parser


def load_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``argv`` (flags) and ``environ``; raises SettingError on a bad value."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    values: dict[str, Any] = {}
    for option in OPTIONS:
        flag_value = getattr(args, option.dest)
        env_value = environ.get(option.env)
        if flag_value is not None:
            if isinstance(flag_value, bool):
                values[option.dest] = flag_value
                continue
            source, raw = f"{'/'.join(option.flags)} {flag_value!r}", flag_value
        elif env_value is not None and env_value.strip() != "":
            source, raw = f"{option.env}={env_value!r}", env_value
        else:
            values[option.dest] = _DEFAULTS[option.dest]
            continue
        try:
            values[option.dest] = option.convert(raw)
        except ValueError as exc:
            raise SettingError(f"bad setting {source}: {exc}") from None
    host, port = values.pop("address")
    config = SimConfig(**{name: values.pop(name) for name in CONFIG_CONVERTERS})
    return Settings(host=host, port=port, config=config, **values)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    # LOG_FORMAT=json as the service's: the all-in-one run, which starts this simulator, then
    # writes nothing but JSON lines.
    if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
        from gophermart.logging import JsonFormatter  # the very lines the service writes

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level))
