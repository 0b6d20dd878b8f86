"""The log format an operator expects (text on a terminal, JSON for a collector) and the ids
every line carries while a request or a task runs."""

from __future__ import annotations

import json
import logging
import os
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from config import SettingsError, load_settings
from gophermart.logging import configure_logging, log_context, resolve_format


class JsonLogging:
    def __init__(self, capsys):
        self.capsys = capsys

    def start(self) -> None:
        """The service's JSON logging, on the stdout the test captures (set up in the test:
        the captured stream exists only while it runs)."""
        configure_logging("INFO", "json")

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.capsys.readouterr().out.splitlines() if line.strip()]


@pytest.fixture
def json_logging(capsys):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield JsonLogging(capsys)
    root.handlers[:], root.level = handlers, level
    logging.captureWarnings(False)


def test_auto_is_text_on_a_terminal_and_json_for_a_pipe():
    primary, secondary = os.openpty()
    read_end, write_end = os.pipe()
    with open(secondary, "w") as terminal, open(write_end, "w") as pipe:
        assert resolve_format("auto", terminal) == "text"
        assert resolve_format("auto", pipe) == "json"
        assert resolve_format("json", terminal) == "json" and resolve_format("text", pipe) == "text"
    os.close(primary)
    os.close(read_end)


def test_log_format_defaults_to_auto_and_refuses_others():
    assert load_settings(argv=[], environ={}).log_format == "auto"
    assert load_settings(argv=[], environ={"LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(SettingsError, match="LOG_FORMAT.*auto, json, text"):
        load_settings(argv=[], environ={"LOG_FORMAT": "xml"})


def test_lines_inside_a_log_context_carry_its_ids_and_no_others(json_logging):
    json_logging.start()
    log = logging.getLogger("gophermart.test")
    with log_context("req-1", "task-1"):
        log.info("inside")
        log.info("own id wins", extra={"request_id": "explicit"})
    log.info("outside")
    inside, explicit, outside = json_logging.lines()
    assert (inside["request_id"], inside["task_id"]) == ("req-1", "task-1")
    assert explicit["request_id"] == "explicit"
    assert "request_id" not in outside and "task_id" not in outside


def test_every_line_of_a_request_carries_its_id_and_none_outlives_it(app, client, json_logging):
    json_logging.start()
    response = client.post(
        "/api/user/register", json={"login": "traced", "password": "pw"}, headers={"X-Request-ID": "hand-in-7"}
    )
    assert response.status_code == 200
    logging.getLogger("gophermart.test").info("after the request")
    lines = json_logging.lines()
    registered = [line for line in lines if line["msg"] == "user registered"]
    assert [line["request_id"] for line in registered] == ["hand-in-7"]
    assert "request_id" not in lines[-1]  # the thread's next work is not this request's


def test_python_warnings_become_log_lines(json_logging):
    json_logging.start()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("something is deprecated", DeprecationWarning, stacklevel=1)
    [line] = [line for line in json_logging.lines() if line["logger"] == "py.warnings"]
    assert "something is deprecated" in line["msg"] and line["level"] == "WARNING"


def test_a_json_line_carries_its_fields_and_the_error_and_writes_any_value(json_logging):
    json_logging.start()
    log = logging.getLogger("gophermart.test")
    when = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    log.info("credited %s points", 5, extra={"amount": Decimal("12.50"), "at": when, "login": "jürgen"})
    try:
        raise ValueError("bad answer")
    except ValueError:
        log.exception("check failed", extra={"order": "12345678903"})
    credited, failed = json_logging.lines()
    assert credited["msg"] == "credited 5 points" and credited["logger"] == "gophermart.test"
    assert (credited["amount"], credited["at"], credited["login"]) == ("12.50", "2026-12-01T12:30:00+00:00", "jürgen")
    assert datetime.fromisoformat(credited["ts"]).utcoffset() == timedelta(0)
    assert "exc" not in credited and "stack_info" not in credited
    assert failed["level"] == "ERROR" and failed["order"] == "12345678903"
    assert failed["exc"].startswith("Traceback") and "ValueError: bad answer" in failed["exc"]


def test_the_text_format_keeps_the_extra_fields(capsys):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", "text")
        logging.getLogger("gophermart.test").info("handed in", extra={"order": "12345678903"})
        [line] = capsys.readouterr().out.splitlines()
    finally:
        root.handlers[:], root.level = handlers, level
        logging.captureWarnings(False)
    assert line.endswith("INFO    gophermart.test: handed in  order=12345678903")
