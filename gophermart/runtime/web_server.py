"""gunicorn embedded: the production server for `gophermart web`.

`gunicorn_options` is the one source of the server's options: `gophermart web` sets them
here, and the repository's `gunicorn.conf.py` hands the same ones to `gunicorn wsgi:app`."""

from __future__ import annotations

import os
import re
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from config import Settings


class ServiceLogger(Logger):
    """gunicorn's own lines (its error log) through the service's logging set-up, so they
    take its format (JSON lines or text) and its stream instead of gunicorn's plain stderr."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True  # to the root logger's one handler (gophermart.logging)


def gunicorn_options(settings: Settings) -> dict:
    host, port = settings.bind
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": settings.web_workers,
        "worker_class": settings.web_worker_class,
        # gunicorn turns a sync worker with more than one thread into gthread.
        "threads": settings.web_threads if settings.web_worker_class == "gthread" else 1,
        "graceful_timeout": 5,
        "timeout": 30,
        "keepalive": 5,
        "accesslog": None,
        # Several servers may run on one host; a shared control socket path would clash.
        "control_socket_disable": True,
        "loglevel": settings.log_level.lower(),
        "logger_class": ServiceLogger,
        "child_exit": _forget_worker_metrics,
        "when_ready": lambda _arbiter: _serve_metrics_apart(settings),
    }


class WebServer(BaseApplication):
    """gunicorn with gophermart's options, serving `app_factory()` (the service by default)."""

    def __init__(self, settings: Settings, app_factory=None):
        self.settings = settings
        self.app_factory = app_factory
        super().__init__()

    def load_config(self) -> None:
        # The entry point has configured logging already: gunicorn's logger, made after
        # this, sends its lines through it (ServiceLogger).
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)

    def load(self):
        from gophermart import create_app

        return self.app_factory() if self.app_factory else create_app(self.settings)


def serve(settings: Settings) -> None:
    """gunicorn in this process (after prepare_server, before the app is imported)."""
    WebServer(settings).run()


def prepare_server(settings: Settings) -> None:
    """What the master does before gunicorn starts, for `gophermart web` and `gunicorn
    wsgi:app` alike, once the entry point has configured logging: the metrics folder every
    worker writes to."""
    prepare_metrics_dir(settings.instance_dir)


def prepare_metrics_dir(instance_dir: str) -> None:
    """Metrics of all gunicorn workers are aggregated through one folder. prometheus_client
    reads PROMETHEUS_MULTIPROC_DIR when first imported, so this runs before that."""
    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or Path(instance_dir) / "prometheus")
    path.mkdir(parents=True, exist_ok=True)
    # Counts of a previous run are not ours; but the folder may be shared (even /tmp), so only
    # the files prometheus_client writes go, nothing else in it.
    for leftover in path.iterdir():
        if _METRICS_FILE.fullmatch(leftover.name) and leftover.is_file() and not leftover.is_symlink():
            leftover.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


# prometheus_client's multiprocess files: counter_<pid>.db, gauge_livesum_<pid>.db, histogram_<pid>.db …
_METRICS_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_\d+\.db")


def _serve_metrics_apart(settings: Settings) -> None:
    """With METRICS_ADDRESS set, the master serves /metrics there (the API answers 404)."""
    if settings.metrics_address:
        from gophermart import create_app
        from gophermart.web.metrics import start_metrics_server

        start_metrics_server(create_app(settings))


def _forget_worker_metrics(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
