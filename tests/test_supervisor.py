"""The all-in-one supervisor: restarts a child that dies, stops all on SIGTERM, exits 0."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import psutil

SCRIPT = textwrap.dedent("""
    import sys
    from gophermart.logging import configure_logging
    from gophermart.runtime.supervisor import Child, run_all
    configure_logging("INFO", "json")
    crasher = [sys.executable, "-c", "import time; time.sleep(0.3); raise SystemExit(3)"]
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    sys.exit(run_all({}, [Child("crasher", crasher), Child("sleeper", sleeper)]))
""")


def test_restarts_a_dying_child_and_stops_everything_on_sigterm():
    process = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    time.sleep(3)
    children = psutil.Process(process.pid).children(recursive=True)
    assert any("sleep(600)" in " ".join(cmdline(c)) for c in children)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    restarts = [line for line in lines if line["msg"] == "exited; restarting"]
    assert restarts and restarts[0]["role"] == "crasher" and restarts[0]["code"] == 3
    assert lines[-1]["msg"] == "stopped"
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive


def cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.NoSuchProcess:  # the crasher may be between two lives
        return []
