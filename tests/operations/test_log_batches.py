"""Log lines below WARNING are written in batches (LOG_FLUSH_SECONDS): late by a fraction of
a second at most, never lost at a normal exit, never written twice by a forked child, never
cut into pieces that another process's lines could slip between."""

from __future__ import annotations

import json
import logging
import select
import subprocess
import sys
import textwrap
import time

import pytest

from gophermart.logging import BatchingHandler

LONG_WAIT = 60.0  # an interval no test outlasts: whatever was written was not left to the writer thread


class RecordingStream:
    """A stream that keeps every write, to see what each write held."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    @property
    def text(self) -> str:
        return "".join(self.writes)


@pytest.fixture
def batched():
    """A logger of its own on a batching handler: (logger, stream, handler)."""
    created: list[logging.Logger] = []

    def make(interval: float) -> tuple[logging.Logger, RecordingStream, BatchingHandler]:
        stream = RecordingStream()
        handler = BatchingHandler(stream, interval)  # type: ignore[arg-type]  # a stream in all that is used
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        logger = logging.getLogger(f"test-batches-{len(created)}")
        logger.propagate = False
        logger.handlers[:] = [handler]
        logger.setLevel(logging.DEBUG)
        created.append(logger)
        return logger, stream, handler

    yield make
    for logger in created:
        logger.handlers[:] = []


def test_info_lines_wait_for_the_writer_and_keep_their_order(batched):
    log, stream, _ = batched(0.05)
    for n in range(5):
        log.info("line %d", n)
    deadline = time.monotonic() + 10
    while stream.text.count("\n") < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.text == "".join(f"INFO line {n}\n" for n in range(5))
    assert len(stream.writes) < 5  # written together, not line by line


def test_info_lines_are_held_until_the_interval_or_a_flush(batched):
    log, stream, handler = batched(LONG_WAIT)
    log.info("held")
    log.debug("held too")
    assert stream.writes == []
    handler.flush()
    assert stream.writes == ["INFO held\nDEBUG held too\n"]


def test_a_warning_is_written_at_once_after_the_lines_before_it(batched):
    log, stream, _ = batched(LONG_WAIT)
    log.info("first")
    log.warning("then this")
    log.error("and this")
    assert stream.text == "INFO first\nWARNING then this\nERROR and this\n"
    log.info("after")
    assert "after" not in stream.text


def test_an_interval_of_zero_writes_every_line_at_once(batched):
    log, stream, _ = batched(0)
    log.info("one")
    assert stream.writes == ["INFO one\n"]
    log.info("two")
    assert stream.writes == ["INFO one\n", "INFO two\n"]


def test_every_write_holds_whole_lines_within_pipe_buf(batched):
    log, stream, handler = batched(LONG_WAIT)
    lines = [f"order {n:05d} é " + "x" * (90 + n % 200) for n in range(300)]
    long_line = "y" * (3 * select.PIPE_BUF)
    for line in lines[:150]:
        log.info(line)
    log.info(long_line)
    for line in lines[150:]:
        log.info(line)
    handler.flush()
    expected = [f"INFO {line}\n" for line in [*lines[:150], long_line, *lines[150:]]]
    assert stream.text == "".join(expected)
    assert len(stream.writes) > 10
    for write in stream.writes:
        assert write.endswith("\n")
        if long_line in write:
            assert write == f"INFO {long_line}\n"  # a line longer than PIPE_BUF alone, whole
        else:
            assert len(write.encode()) <= select.PIPE_BUF


def test_a_line_that_cannot_be_formatted_is_reported_and_the_rest_still_written(batched, capsys):
    log, stream, handler = batched(LONG_WAIT)
    log.info("%d apples", "not a number")
    log.info("pears")
    handler.flush()
    assert stream.text == "INFO pears\n"
    assert "--- Logging error ---" in capsys.readouterr().err


SCRIPT = textwrap.dedent(
    """
    import logging, os, sys
    from gophermart.logging import configure_logging

    configure_logging("INFO", "json", 60.0)
    log = logging.getLogger("batches")
    log.info("before the fork")
    pid = os.fork()
    if pid == 0:
        log.info("in the child")
        sys.exit(0)
    os.waitpid(pid, 0)
    for n in range(1000):
        log.info("line %d", n)
    """
)


def test_a_process_writes_every_line_at_exit_and_a_forked_child_only_its_own():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    messages = [json.loads(line)["msg"] for line in done.stdout.splitlines()]
    assert messages.count("before the fork") == 1  # not written again by the child
    assert messages.count("in the child") == 1
    assert [m for m in messages if m.startswith("line ")] == [f"line {n}" for n in range(1000)]
