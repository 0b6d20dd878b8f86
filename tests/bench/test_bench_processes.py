"""The benchmarks start and stop the service's processes with the tests' helpers: each
named port answers before the block runs, and every process is gone after it, also when
the block fails."""

import os
import socket
import sys
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # scripts, not a package
from common import started

from tests.support.processes import free_port


class Failed(Exception):
    pass


def test_started_waits_for_named_ports_and_stops_every_process_even_when_the_block_fails(tmp_path):
    port = free_port()
    commands = {
        "server": [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        "sleeper": [sys.executable, "-c", "import time; time.sleep(600)"],
    }
    before = set(psutil.Process().children())  # a fixture's simulator may be running beside it
    seen: list[psutil.Process] = []
    with pytest.raises(Failed), started(commands, dict(os.environ), tmp_path, ports={"server": port}):
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # listening before the block began
        seen = [process for process in psutil.Process().children() if process not in before]
        raise Failed
    assert len(seen) == 2
    assert not [process for process in seen if process.is_running()]
    assert {log.name for log in tmp_path.iterdir()} == {"server.log", "sleeper.log"}
