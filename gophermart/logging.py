"""One logging set-up shared by web, worker and beat: JSON lines, or
plain text for a terminal (LOG_FORMAT=text; `auto`, the default, picks text when stdout is a
terminal and JSON otherwise). Fields passed with `extra=` appear in both.

Every line written while a request or a task runs carries its `request_id` (and a task's
lines its `task_id`): the web's request log and the Celery signals set the two context
variables below (`log_context` does the same for other code, such as a `flask shell`
session), and a filter on the one handler adds them to each record."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

# Attributes every LogRecord has; anything else was passed in `extra=`.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

# The ids of the request or task this thread is working for (None outside of one).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("task_id", default=None)


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the line carries beyond logging's own attributes: `extra=` and the ids."""
    return {name: value for name, value in vars(record).items() if name not in _STANDARD_ATTRS}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = _extra_fields(record)
        return line + ("  " + " ".join(f"{k}={v}" for k, v in extra.items()) if extra else "")


class ContextFilter(logging.Filter):
    """Adds the current request and task ids to every record that does not name its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("task_id", task_id)):
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


def _json_default(value: Any) -> str:
    """A field JSON has no type for: dates and times as ISO 8601, anything else as its str()."""
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: `ts` (ISO 8601, UTC), `level`, `logger`, `msg`, then every
    field passed with `extra=` or added by ContextFilter, and `exc` / `stack_info` when the
    line has them."""

    _encoder = json.JSONEncoder(ensure_ascii=False, default=_json_default)

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **_extra_fields(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return self._encoder.encode(line)


@contextmanager
def log_context(request: str | None, task: str | None = None) -> Iterator[None]:
    """Lines logged inside carry these ids (for code that is not a request or a task)."""
    tokens = request_id.set(request), task_id.set(task)
    try:
        yield
    finally:
        request_id.reset(tokens[0])
        task_id.reset(tokens[1])


def resolve_format(fmt: str, stream: TextIO | None = None) -> str:
    """`auto` is text on a terminal, JSON for anything that collects the lines."""
    if fmt != "auto":
        return fmt
    stream = stream or sys.stdout
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # a closed or replaced stream: a collector, not a person
        return "json"


def formatter(fmt: str) -> logging.Formatter:
    if resolve_format(fmt) == "text":
        return TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    return JsonFormatter()


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    # Neither format shows where a line was logged from, nor the thread or process name:
    # logging need not walk the stack for every line to find them (its documented switches).
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Python warnings (deprecations of libraries, Celery's own) become log lines, not raw stderr.
    logging.captureWarnings(True)
    # Celery's per-message lines (every sweep, every second) drown the service's own;
    # our tasks log what they did. They come back with LOG_LEVEL=DEBUG.
    if logging.getLevelName(level) > logging.DEBUG:
        for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat"):
            logging.getLogger(name).setLevel(logging.WARNING)
