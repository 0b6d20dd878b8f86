"""gunicorn embedded: the production server for `gophermart web`."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from config import Settings


class WebServer(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        host, port = self.settings.bind
        options = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": self.settings.web_workers,
            "worker_class": "gthread",
            "threads": self.settings.web_threads,
            "graceful_timeout": 5,
            "timeout": 30,
            "keepalive": 5,
            "accesslog": None,
            # Several servers may run on one host; a shared control socket path would clash.
            "control_socket_disable": True,
            "loglevel": self.settings.log_level.lower(),
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from gophermart import create_app
        from gophermart.logging import configure_logging

        configure_logging(self.settings.log_level, self.settings.log_format)
        return create_app(self.settings)


def serve(settings: Settings) -> None:
    WebServer(settings).run()
