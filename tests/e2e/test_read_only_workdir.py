"""The embedded run from a read-only working directory, as in the image (/app, owned by root,
run as an unprivileged user): every file it writes goes to the instance folder, so an order
still reaches PROCESSED and the working directory stays as it was.

Root ignores file modes through its capabilities, so run as root the service gets none (it
then obeys modes like any user); a probe first shows that the service's user cannot write
into the working directory."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest
import requests

from config import Settings
from tests.support.processes import free_port, serving, signed_up

DEMO_ORDER = "12345678903"  # one of the bundled simulator's demo orders: PROCESSED, 27.25
SETTINGS_ENV = {spec.metadata["env"] for spec in fields(Settings)}
PR_CAPBSET_DROP = 24


def without_capabilities() -> None:
    """In the child before exec: empty the bounding set, so the program runs with no
    capability (CAP_DAC_OVERRIDE above all) even as uid 0."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    for capability in range(64):
        prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)  # past the last one: EINVAL, harmless


def as_service_user() -> dict:
    return {"preexec_fn": without_capabilities} if os.geteuid() == 0 else {}


@pytest.fixture
def folders(tmp_path):
    """A read-only working directory and a writable instance folder."""
    workdir, instance = tmp_path / "app", tmp_path / "instance"
    workdir.mkdir()
    instance.mkdir()
    workdir.chmod(0o555)
    yield workdir, instance
    workdir.chmod(0o755)  # so pytest can clean up


def embedded_env(instance: Path, port: int) -> dict[str, str]:
    """No database, Redis or accrual system configured: SQLite, the file broker and the
    bundled simulator, all in the instance folder."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    env.update(
        INSTANCE_DIR=str(instance),
        RUN_ADDRESS=f"127.0.0.1:{port}",
        SIMULATOR_ADDRESS=f"127.0.0.1:{free_port()}",
        PASSWORD_HASH_COST="low",
        LOG_FORMAT="text",
        LOG_LEVEL="WARNING",
        PYTHONDONTWRITEBYTECODE="1",  # as in the image, whose source tree is read-only too
    )
    return env


def wait_processed(session: requests.Session, base: str, number: str, within: float = 60) -> dict:
    deadline = time.monotonic() + within
    while True:
        response = session.get(f"{base}/api/user/orders", timeout=10)
        orders = {o["number"]: o for o in response.json()} if response.status_code == 200 else {}
        if orders.get(number, {}).get("status") in ("PROCESSED", "INVALID") or time.monotonic() > deadline:
            return orders.get(number, {})
        time.sleep(0.2)


def test_all_in_one_from_a_read_only_working_directory(folders):
    workdir, instance = folders
    probe = subprocess.run(
        [sys.executable, "-c", "open('probe', 'w')"], cwd=workdir, capture_output=True, text=True, **as_service_user()
    )
    assert probe.returncode != 0 and "PermissionError" in probe.stderr  # the user really cannot write here

    port = free_port()
    executable = [str(Path(sys.executable).with_name("gophermart"))]
    log = instance.parent / "gophermart.log"
    with (
        open(log, "wb") as output,
        serving(
            executable,
            embedded_env(instance, port),
            port,
            timeout=60,
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
            **as_service_user(),
        ),
    ):
        base = f"http://127.0.0.1:{port}"
        shopper = signed_up(base, "read-only")
        assert shopper.post(f"{base}/api/user/orders", data=DEMO_ORDER, timeout=10).status_code == 202
        order = wait_processed(shopper, base, DEMO_ORDER)
        assert order.get("status") == "PROCESSED", log.read_text(errors="replace")[-3000:]
        assert order["accrual"] == 27.25

    assert list(workdir.iterdir()) == []
    control = instance / "broker" / "control"
    assert any(control.glob("*.exchange")), "the broker's exchange tables belong in the instance folder"
    assert any(instance.glob("celerybeat-schedule*"))
