"""`gunicorn wsgi:app`, run from the repository's root as the README offers it, serves as
`gophermart web` does: RUN_ADDRESS, WEB_WORKERS, WEB_THREADS and WEB_WORKER_CLASS from the service's settings,
metrics aggregated over every worker, gunicorn's own lines in the service's log format."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from config.settings import PROJECT_ROOT
from tests.support.processes import free_port, service_env, serving
from tests.support.racing import fire_together

GUNICORN = [str(Path(sys.executable).with_name("gunicorn")), "wsgi:app"]


def healthz_count(base: str) -> float:
    body = requests.get(f"{base}/metrics", timeout=30).text
    pattern = r'gophermart_http_request_duration_seconds_count\{[^}]*endpoint="health.healthz"[^}]*\} (\S+)'
    return sum(float(m) for m in re.findall(pattern, body))


def booted_workers(master_pid: int, at_least: int, timeout: float = 20.0) -> list[psutil.Process]:
    """The master's workers, once it has forked `at_least` of them (it listens before that)."""
    deadline = time.monotonic() + timeout
    while len(children := psutil.Process(master_pid).children()) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    return children


def test_gunicorn_wsgi_app_takes_the_service_settings_and_aggregates_metrics(database_uri, tmp_path):
    port = free_port()
    env = service_env(
        database_uri,
        tmp_path / "instance",
        RUN_ADDRESS=f"127.0.0.1:{port}",
        WEB_WORKERS="3",
        WEB_THREADS="2",
        WEB_WORKER_CLASS="gthread",
    )
    env.update(LOG_FORMAT="json", LOG_LEVEL="INFO")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    base = f"http://127.0.0.1:{port}"
    with (
        open(tmp_path / "out.log", "wb") as out,
        serving(GUNICORN, env, port, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT) as master,
    ):
        assert len(booted_workers(master.pid, at_least=3)) == 3  # WEB_WORKERS
        assert (tmp_path / "instance" / "prometheus").is_dir()  # the metrics folder, made by the master
        before = healthz_count(base)
        # Concurrent, on separate connections: the requests spread over the workers.
        fire_together(30, lambda _: requests.get(f"{base}/healthz", timeout=30).raise_for_status())
        # Whichever worker answers a scrape, it reports all of them.
        assert [healthz_count(base) for _ in range(6)] == [before + 30] * 6
    lines = [json.loads(line) for line in (tmp_path / "out.log").read_text().splitlines() if line.strip()]
    booted = [line for line in lines if line["logger"] == "gunicorn.error" and "Booting worker" in line["msg"]]
    assert len(booted) == 3
    assert any("Using worker: gthread" in line["msg"] for line in lines)  # WEB_WORKER_CLASS, as `gophermart web`


def test_a_bad_setting_stops_gunicorn_with_one_line_naming_it(database_uri, tmp_path):
    env = service_env(database_uri, tmp_path, WEB_WORKERS="none")
    result = subprocess.run(GUNICORN, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("gophermart: bad setting: WEB_WORKERS")
