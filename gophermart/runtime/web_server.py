"""gunicorn embedded: the production server for `gophermart web`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gunicorn.app.base import BaseApplication

from config import Settings


def gunicorn_options(settings: Settings) -> dict:
    host, port = settings.bind
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": settings.web_workers,
        "worker_class": "gthread",
        "threads": settings.web_threads,
        "graceful_timeout": 5,
        "timeout": 30,
        "keepalive": 5,
        "accesslog": None,
        # Several servers may run on one host; a shared control socket path would clash.
        "control_socket_disable": True,
        "loglevel": settings.log_level.lower(),
        "child_exit": _forget_worker_metrics,
    }


class WebServer(BaseApplication):
    """gunicorn with gophermart's options, serving `app_factory()` (the service by default)."""

    def __init__(self, settings: Settings, app_factory=None):
        self.settings = settings
        self.app_factory = app_factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)

    def load(self):
        from gophermart import create_app
        from gophermart.logging import configure_logging

        configure_logging(self.settings.log_level, self.settings.log_format)
        return self.app_factory() if self.app_factory else create_app(self.settings)


def serve(settings: Settings) -> None:
    WebServer(settings).run()


def prepare_metrics_dir(instance_dir: str) -> None:
    """Metrics of all gunicorn workers are aggregated through one folder. prometheus_client
    reads PROMETHEUS_MULTIPROC_DIR when first imported, so this runs before that."""
    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or Path(instance_dir) / "prometheus")
    shutil.rmtree(path, ignore_errors=True)  # counts of a previous run are not ours
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def _forget_worker_metrics(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
