"""One logging set-up shared by web, worker and beat: JSON lines (python-json-logger), or
plain text for a terminal (LOG_FORMAT=text; `auto`, the default, picks text when stdout is a
terminal and JSON otherwise). Fields passed with `extra=` appear in both.

Every line written while a request or a task runs carries its `request_id` (and a task's
lines its `task_id`): the web's request log and the Celery signals set the two context
variables below (`log_context` does the same for other code, such as a `flask shell`
session), and a filter on the one handler adds them to each record.

Lines below WARNING are written in batches, at most LOG_FLUSH_SECONDS after they were logged
(`BatchingHandler`): a request thread that wrote and flushed its own line would hold the
handler's lock through a system call while the process's other threads wait for it."""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

# Attributes every LogRecord has; anything else was passed in `extra=`.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

# The ids of the request or task this thread is working for (None outside of one).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("task_id", default=None)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        return line + ("  " + " ".join(f"{k}={v}" for k, v in extra.items()) if extra else "")


class ContextFilter(logging.Filter):
    """Adds the current request and task ids to every record that does not name its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("task_id", task_id)):
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


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
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger", "message": "msg", "exc_info": "exc"},
        timestamp="ts",  # ISO 8601 in UTC
        json_ensure_ascii=False,
    )


class BatchingHandler(logging.StreamHandler):
    """A stream handler that writes lines in batches. A line below WARNING waits at most
    `interval` seconds for a thread of its process that writes whatever is waiting; a line at
    WARNING or above is written at once, after the lines logged before it. Every write holds
    whole lines, at most PIPE_BUF bytes of them unless one line is longer, so the lines of
    processes sharing a pipe never cut into each other. `flush()` (logging's shutdown calls it
    at exit) writes what is waiting; a process killed outright loses its last `interval`.
    An interval of 0 writes every line at once."""

    def __init__(self, stream: TextIO, interval: float) -> None:
        super().__init__(stream)
        self.interval = interval
        self._lines: deque[str] = deque()  # appended and popped without a lock: both are atomic
        self._after_fork()
        _batching_handlers.add(self)

    def _after_fork(self) -> None:
        """A new process starts with nothing waiting (its parent writes its own lines) and no
        writer thread of its own yet."""
        self._lines.clear()
        self._writing = threading.Lock()
        self._waiting = threading.Event()
        self._writer_pid: int | None = None

    def handle(self, record: logging.LogRecord) -> bool:
        # Unlike logging's own, without the handler's lock: a line is only formatted and queued.
        # (From Python 3.12 a filter may hand back a record to log in its place.)
        kept = self.filter(record)
        if isinstance(kept, logging.LogRecord):
            record = kept
        if kept:
            self.emit(record)
        return bool(kept)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING or not self.interval:
            self.flush()
            return
        if self._writer_pid != os.getpid():
            self._start_writer()
        if not self._waiting.is_set():
            self._waiting.set()

    def _start_writer(self) -> None:
        with self._writing:
            if self._writer_pid == os.getpid():
                return
            self._writer_pid = os.getpid()
        threading.Thread(target=self._write_batches, name="log-writer", daemon=True).start()

    def _write_batches(self) -> None:
        while True:
            self._waiting.wait()
            time.sleep(self.interval)
            self._waiting.clear()  # before the write: a line queued from here on sets it again
            self.flush()

    def flush(self) -> None:
        with self._writing:
            batch: list[str] = []
            size = 0
            while self._lines:
                line = self._lines.popleft()
                length = len(line) if line.isascii() else len(line.encode())
                if batch and size + length > select.PIPE_BUF:
                    self._write("".join(batch))
                    batch, size = [], 0
                batch.append(line)
                size += length
            if batch:
                self._write("".join(batch))

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:  # a closed or broken stream: as logging's own handlers do, say so and go on
            self.handleError(logging.makeLogRecord({"msg": text}))


# Every batching handler of this process, to reset in a forked child.
_batching_handlers: weakref.WeakSet[BatchingHandler] = weakref.WeakSet()


def _reset_batching_handlers() -> None:
    for handler in _batching_handlers:
        handler._after_fork()


os.register_at_fork(after_in_child=_reset_batching_handlers)


def configure_logging(level: str = "INFO", fmt: str = "auto", flush_seconds: float = 0.0) -> None:
    handler = BatchingHandler(sys.stdout, flush_seconds)
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
