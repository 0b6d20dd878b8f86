"""The logs an operator collects: with LOG_FORMAT=json every line the all-in-one run writes is
JSON, and one order's story (hand-in, each accrual call, final status) links up through the
request id its hand-in carried."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redis as redis_lib

from tests.support.processes import free_port, gophermart_command, service_env, serving
from tests.support.redis_db import redis_url_for
from tests.support.simulator import new_order_number, register_at_simulator
from tests.support.stacks import Shopper

DEMO_ORDER = "12345678903"  # in the bundled simulator's demo data: PROCESSED, 27.25


@pytest.fixture(scope="module")
def simulator_calc_seconds() -> float:
    # Longer than the longest wait before a first check (3 s, whatever was learned): the
    # first answer is not final, so the story has re-checks the task itself queued.
    return 6


def wait_for_line(path: Path, fragment: str, timeout: float = 60.0) -> None:
    """Until a process has written `fragment` to its log (a worker says when it is ready)."""
    deadline = time.monotonic() + timeout
    while fragment not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{fragment!r} not in {path.name} within {timeout} s"
        time.sleep(0.1)


def json_lines(path: Path) -> list[dict]:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    not_json = []
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            not_json.append(line)
    assert not not_json, f"{len(not_json)} of {len(lines)} lines are not JSON: {not_json[:5]}"
    return parsed


def test_every_line_of_the_all_in_one_run_is_json(make_database, tmp_path):
    port, simulator_port = free_port(), free_port()
    env = service_env(
        make_database("jsonlogs"),
        tmp_path / "instance",
        RUN_ADDRESS=f"127.0.0.1:{port}",
        SIMULATOR_ADDRESS=f"127.0.0.1:{simulator_port}",  # no accrual system set: the bundled one
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    base = f"http://127.0.0.1:{port}"
    executable = [str(Path(sys.executable).with_name("gophermart"))]
    with (
        open(tmp_path / "stdout.log", "wb") as out,
        open(tmp_path / "stderr.log", "wb") as err,
        serving(executable, env, port, timeout=60, cwd=tmp_path, stdout=out, stderr=err) as process,
    ):
        shopper = Shopper(base, "json-lines")
        assert shopper.hand_in(DEMO_ORDER) == 202
        assert shopper.wait_final([DEMO_ORDER], timeout=30)[DEMO_ORDER]["status"] == "PROCESSED"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    lines = json_lines(tmp_path / "stdout.log") + json_lines(tmp_path / "stderr.log")
    loggers = {line["logger"] for line in lines}
    # Every part spoke, each in JSON: the supervisor and its walkthrough, gunicorn, Celery,
    # the service's own lines and the bundled simulator.
    assert {"gophermart.runtime.supervisor", "gunicorn.error", "celery.apps.worker", "accrual_sim"} <= loggers
    assert any(line["msg"] == "gophermart is starting" and line["api"] == base for line in lines)
    assert any(line["msg"] == "order final" and line["status"] == "PROCESSED" for line in lines)


def test_one_orders_story_follows_its_request_id(database_uri, sim, worker_id, tmp_path):
    redis_url = redis_url_for(worker_id)
    redis_lib.Redis.from_url(redis_url).flushdb()
    port = free_port()
    env = service_env(
        database_uri,
        tmp_path / "instance",
        REDIS_URL=redis_url,
        ACCRUAL_SYSTEM_ADDRESS=sim.url,
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    base = f"http://127.0.0.1:{port}"
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    # Web and worker only, no beat: every re-check is one the task queued itself.
    with (
        open(web_log, "wb") as web_out,
        open(worker_log, "wb") as worker_out,
        serving(gophermart_command("worker"), env, None, stdout=worker_out, stderr=subprocess.STDOUT),
        serving(
            gophermart_command("web", "--skip-migrations", "-a", f"127.0.0.1:{port}"),
            env,
            port,
            stdout=web_out,
            stderr=subprocess.STDOUT,
        ),
    ):
        # A worker still starting would take the first check late, when the answer is final.
        wait_for_line(worker_log, " ready.")
        shopper = Shopper(base, "story-teller")
        number = new_order_number()
        # Registered now: its calculation runs from here, so the first check comes too early.
        register_at_simulator(
            sim,
            number,
            [{"description": "Kettle Acme", "price": Decimal("2000")}],
            [{"match": "Acme", "reward": 10, "reward_type": "%"}],
        )
        response = shopper.http.post(
            f"{base}/api/user/orders", data=number, headers={"X-Request-ID": "story-42"}, timeout=10
        )
        assert response.status_code == 202 and response.headers["X-Request-ID"] == "story-42"
        order = shopper.wait_final([number], timeout=30)[number]
        assert (order["status"], order["accrual"]) == ("PROCESSED", 200)
        time.sleep(0.5)  # the worker's last lines reach the file
    story = [line for line in json_lines(web_log) + json_lines(worker_log) if line.get("request_id") == "story-42"]
    accepted = [line for line in story if line["msg"] == "order accepted"]
    calls = [line for line in story if line["msg"] == "accrual call" and line["order_number"] == number]
    final = [line for line in story if line["msg"] == "order final"]
    assert len(accepted) == 1 and "task_id" not in accepted[0]
    assert any(line["msg"] == "request" and line["path"] == "/api/user/orders" for line in story)
    # The first check was too early; the re-checks the task queued carry the id on.
    assert [call["answer"] for call in calls][-1] == "PROCESSED" and len(calls) >= 2
    assert len({call["task_id"] for call in calls}) == len(calls)  # one task per check, each named
    assert len(final) == 1 and final[0]["task_id"] == calls[-1]["task_id"]
    assert final[0]["order_id"] == accepted[0]["order_id"]
