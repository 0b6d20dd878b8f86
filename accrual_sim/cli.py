"""Command-line entry point: settings, seed data, then gunicorn embedded.

One worker process (all state lives in its memory) with the ``gthread``
worker class, so many clients are served at once. SIGINT and SIGTERM stop it
and the process exits 0.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from .app import create_app
from .engine import Engine
from .seed import SeedError, apply_seed, read_demo_seed, read_seed_file
from .settings import SettingError, Settings, configure_logging, load_settings

PROG = "gophermart-accrual"
GRACEFUL_TIMEOUT_SECONDS = 3
KEEPALIVE_SECONDS = 5

log = logging.getLogger("accrual_sim")


class RootLogger(Logger):
    """gunicorn's lines through the root logger's handler, in the format configure_logging chose."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.handlers.clear()
            log.propagate = True


class SimulatorServer(BaseApplication):
    """gunicorn running an already built Flask app."""

    def __init__(self, application: Any, options: dict[str, Any]) -> None:
        self.application = application
        self.options = options
        super().__init__(prog=PROG)

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    def when_ready(_server: Any) -> None:
        config = settings.config
        log.info(
            "accrual simulator listening on http://%s (rate limit %s, calc time %gs, "
            "fault rate %g, latency %g ms, random seed %s, threads %d, seed file %s, demo %s)",
            settings.address,
            f"{config.rate_limit}/{config.rate_window:g}s" if config.rate_limit else "off",
            config.calc_seconds,
            config.fault_rate,
            config.latency_ms,
            config.random_seed,
            settings.threads,
            settings.seed_file or "none",
            "on" if settings.demo else "off",
        )

    return {
        "bind": [settings.address],
        "workers": 1,
        "worker_class": "gthread",
        "threads": settings.threads,
        "preload_app": True,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        "loglevel": settings.log_level.lower(),
        "accesslog": "-" if settings.log_level == "DEBUG" else None,
        "errorlog": "-",
        "logger_class": RootLogger,
        "control_socket_disable": True,
        "proc_name": PROG,
        "when_ready": when_ready,
    }


def build_engine(settings: Settings) -> Engine:
    engine = Engine(settings.config)
    if settings.demo:
        apply_seed(engine, read_demo_seed())
    if settings.seed_file is not None:
        apply_seed(engine, read_seed_file(settings.seed_file))
    return engine


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings(argv)
    except SettingError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        engine = build_engine(settings)
    except SeedError as exc:
        print(f"{PROG}: bad setting ACCRUAL_SEED_FILE (--seed-file or --demo): {exc}", file=sys.stderr)
        return 2
    app = create_app(engine=engine)
    SimulatorServer(app, gunicorn_options(settings)).run()
    return 0
