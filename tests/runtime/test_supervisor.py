"""The all-in-one supervisor: restarts a child that dies, stops all on SIGTERM, exits 0."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from gophermart.runtime.supervisor import _dies_with
from tests.support.processes import free_port, wait_for_port

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
    deadline = time.monotonic() + 30  # a loaded machine starts Python slowly
    children: list[psutil.Process] = []
    while not any("sleep(600)" in " ".join(cmdline(c)) for c in children):
        assert time.monotonic() < deadline, "the sleeper never started"
        time.sleep(0.2)
        children = psutil.Process(process.pid).children(recursive=True)
    time.sleep(3)  # the crasher's life of 0.3 s, its death seen, a second's pause, restarted
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


def test_a_killed_all_in_one_parent_leaves_nothing_behind(tmp_path):
    """SIGKILL gives the supervisor no chance to stop anything: the kernel does it."""
    port, simulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ACCRUAL_SYSTEM_ADDRESS", "DATABASE_URI")}
    env.update(
        INSTANCE_DIR=str(tmp_path),  # SQLite and the file-based broker: nothing else to start
        RUN_ADDRESS=f"127.0.0.1:{port}",
        SIMULATOR_ADDRESS=f"127.0.0.1:{simulator_port}",
        PASSWORD_HASH_COST="low",
        LOG_LEVEL="WARNING",
        LOG_FORMAT="text",
        WEB_WORKERS="2",
        WORKER_CONCURRENCY="2",
    )
    parent = subprocess.Popen(
        [str(Path(sys.executable).with_name("gophermart"))], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL
    )
    family: list[psutil.Process] = []
    try:
        wait_for_port(port, parent, timeout=40)
        wait_for_port(simulator_port, parent)
        family = psutil.Process(parent.pid).children(recursive=True)
        roles = {" ".join(cmdline(p)) for p in family}
        assert all(any(role in line for line in roles) for role in ("web", "worker", "beat", "accrual_sim"))
        assert len(family) > 4  # gunicorn workers and Celery pool processes too
        parent.kill()
        parent.wait()
        _, alive = psutil.wait_procs(family, timeout=15)
        alive += [p for p in of_this_run(tmp_path) if p not in alive]  # started after the look
        assert not alive, f"left behind: {[' '.join(cmdline(p)) for p in alive]}"
        for free in (port, simulator_port):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", free))  # nobody holds the ports any more
    finally:
        if parent.poll() is None:
            parent.kill()
        for leftover in family + of_this_run(tmp_path):  # when the test failed: none left to others
            try:
                leftover.kill()
            except psutil.NoSuchProcess:
                pass


def of_this_run(instance_dir: Path) -> list[psutil.Process]:
    """Every process that inherited this run's instance folder, whoever its parent is now."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("INSTANCE_DIR") == str(instance_dir):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def test_a_child_whose_supervisor_died_before_it_asked_stops_at_once():
    """The supervisor may die between fork and the child's prctl call, when no signal would
    come any more: the child sees that its parent is not the one that started it."""
    gone = os.getppid()  # any process but the child's real parent
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], preexec_fn=_dies_with(gone))
    try:
        assert child.wait(timeout=20) == -signal.SIGTERM
    finally:
        child.kill()


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    script = textwrap.dedent("""
        import sys
        from gophermart.logging import configure_logging
        from gophermart.runtime import supervisor
        configure_logging("INFO", "json")
        supervisor.GRACE_SECONDS = 0.5
        stubborn = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                    "print('ready', flush=True); time.sleep(600)"]
        sys.exit(supervisor.run_all({}, [supervisor.Child("stubborn", stubborn)]))
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines = []
    while "ready" not in lines:  # the child ignores SIGTERM from here on
        line = process.stdout.readline()
        assert line, "the supervisor exited early"
        lines.append(line.strip())
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    lines += output.splitlines()
    messages = [json.loads(line)["msg"] for line in lines if line.startswith("{")]
    assert "did not stop in time; killing" in messages
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive
