"""The real simulator as a process: seed files, bad settings, signals."""

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.support.simulator import console_script, simulator_env, start_simulator, wait_for_final

SEED = {
    "goods": [
        {"match": "Vitek", "reward": 7.5, "reward_type": "%"},
        {"match": "Philips", "reward": 3, "reward_type": "pt"},
    ],
    "orders": [
        {"order": "2377225624", "goods": [{"description": "Vitek iron Philips", "price": 1999.99}]},
        {"order": "346436439", "goods": []},
    ],
}


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("seed") / "seed.json"
    path.write_text(json.dumps(SEED))
    return path


@pytest.fixture(scope="module")
def seeded(simulator_factory, seed_file):
    return simulator_factory("--demo", "--calc-time", "0.2", env={"ACCRUAL_SEED_FILE": str(seed_file)})


def test_seed_file_and_demo_are_loaded(seeded):
    # 1999.99 * 7.5 % = 149.99925, + 3 points = 152.99925 -> 153
    assert wait_for_final(seeded, "2377225624") == {"order": "2377225624", "status": "PROCESSED", "accrual": 153}
    assert wait_for_final(seeded, "346436439") == {"order": "346436439", "status": "INVALID"}
    assert wait_for_final(seeded, "12345678903")["accrual"] == 27.25  # from the demo seed
    assert wait_for_final(seeded, "9278923470")["accrual"] == 729.98
    assert seeded.post("/api/goods", json={"match": "Vitek", "reward": 1, "reward_type": "pt"}).status_code == 409
    assert seeded.post("/api/goods", json={"match": "Bork", "reward": 1, "reward_type": "pt"}).status_code == 409
    assert seeded.post("/api/orders", json={"order": "2377225624", "goods": []}).status_code == 409
    stats = seeded.stats()
    assert stats["mechanics"] == 6
    # Seeded entries are not requests.
    assert stats["requests"]["POST /api/goods"] == {"409": 2}
    assert stats["requests"]["POST /api/orders"] == {"409": 1}


def run_failing(*args, env=None):
    result = subprocess.run(
        [sys.executable, "-m", "accrual_sim", *args],
        env=simulator_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--rate-limit", "lots"], {}, "--rate-limit"),
        ([], {"ACCRUAL_FAULT_RATE": "2"}, "ACCRUAL_FAULT_RATE"),
        ([], {"RUN_ADDRESS": "nowhere"}, "RUN_ADDRESS"),
        (["--seed-file", "/nonexistent/seed.json"], {}, "ACCRUAL_SEED_FILE"),
        (["--bogus"], {}, "--bogus"),
    ],
)
def test_bad_setting_stops_with_one_line(args, env, named):
    code, lines = run_failing(*args, env=env)
    assert code == 2
    assert len(lines) == 1, lines
    assert named in lines[0]


def test_bad_seed_content_stops_with_one_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"goods": [{"match": "X", "reward": -1, "reward_type": "%"}]}))
    code, lines = run_failing("--seed-file", str(path))
    assert code == 2
    assert len(lines) == 1, lines
    assert "goods[0]" in lines[0] and "reward" in lines[0]


def test_sigint_stops_with_exit_0():
    sim = start_simulator(["--calc-time", "0.1"])
    try:
        assert sim.get("/api/orders/18").status_code == 204
        started = time.monotonic()
        assert sim.stop(signal.SIGINT) == 0
        assert time.monotonic() - started < 10
    finally:
        if sim.running:
            sim.process.kill()
        sim.log_path.unlink(missing_ok=True)


def test_console_script_stops_on_sigterm_with_exit_0():
    assert console_script()
    sim = start_simulator(["--demo"], use_console_script=True)
    try:
        # A kept-alive connection must not hold the shutdown up.
        assert sim.get("/api/orders/12345678903").status_code == 200
        started = time.monotonic()
        assert sim.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 10
    finally:
        if sim.running:
            sim.process.kill()
        sim.log_path.unlink(missing_ok=True)


def test_help_exits_0():
    result = subprocess.run([sys.executable, "-m", "accrual_sim", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for name in (
        "--rate-limit",
        "ACCRUAL_RATE_WINDOW",
        "--calc-time",
        "--fault-rate",
        "--latency-ms",
        "--seed-file",
        "--demo",
        "--threads",
        "RUN_ADDRESS",
    ):
        assert name in result.stdout
