"""One logging set-up shared by web, worker and beat: JSON lines (python-json-logger), or
plain text for a terminal (LOG_FORMAT=text). Fields passed with `extra=` appear in both."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

# Attributes every LogRecord has; anything else was passed in `extra=`.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        return line + ("  " + " ".join(f"{k}={v}" for k, v in extra.items()) if extra else "")


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "text":
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    else:
        handler.setFormatter(
            JsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                rename_fields={"levelname": "level", "name": "logger", "message": "msg", "exc_info": "exc"},
                timestamp="ts",  # ISO 8601 in UTC
                json_ensure_ascii=False,
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Celery's per-message lines (every sweep, every second) drown the service's own;
    # our tasks log what they did. They come back with LOG_LEVEL=DEBUG.
    if logging.getLevelName(level) > logging.DEBUG:
        for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat"):
            logging.getLogger(name).setLevel(logging.WARNING)
