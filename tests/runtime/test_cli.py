"""The `gophermart` console script: settings, migrations at start-up, clean shutdown."""

import signal
import subprocess
import sys
import time

import pytest

from config.settings import PROJECT_ROOT
from tests.support.processes import free_port, gophermart_command, service_env, serving, signed_up


@pytest.fixture
def empty_database(make_database):
    return make_database("cli")


@pytest.mark.parametrize(
    "role,stop_signal,within",
    [
        # The all-in-one run stops web, worker and beat gracefully within 20 s …
        ([], signal.SIGINT, 20),
        ([], signal.SIGTERM, 20),
        # … the web role alone within 10 s.
        (["web"], signal.SIGINT, 10),
        (["web"], signal.SIGTERM, 10),
    ],
)
def test_serves_an_empty_database_and_stops_cleanly(empty_database, tmp_path, role, stop_signal, within):
    port = free_port()
    env = service_env(
        empty_database.replace("postgresql://", "postgres://"),
        tmp_path,
        RUN_ADDRESS=f"127.0.0.1:{port}",
        ACCRUAL_SYSTEM_ADDRESS="http://127.0.0.1:9",
    )
    with serving(gophermart_command(*role), env, port) as process:
        base = f"http://127.0.0.1:{port}"
        signed_up(base, "a", "b")  # the schema was created by the start-up migration
        started = time.monotonic()
        process.send_signal(stop_signal)
        assert process.wait(timeout=within + 10) == 0  # slack: the next line is the check
        assert time.monotonic() - started < within, f"stopped after {time.monotonic() - started:.1f} s"


@pytest.mark.parametrize(
    "args,env,needle",
    [
        (["-a", "nonsense"], {}, "RUN_ADDRESS (-a)"),
        ([], {"DATABASE_URI": "mysql://x"}, "DATABASE_URI"),
        ([], {"ACCRUAL_SYSTEM_ADDRESS": "ftp://x"}, "ACCRUAL_SYSTEM_ADDRESS"),
        (["-x"], {}, "unknown argument '-x'"),
        (["-a"], {}, "-a"),
    ],
)
def test_bad_setting_stops_start_up_with_one_clear_line(tmp_path, args, env, needle):
    result = subprocess.run(
        gophermart_command(*args),
        env=service_env("sqlite:///unused.db", tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_embedded_default_needs_no_database_server_nor_redis(tmp_path):
    """No DATABASE_URI, REDIS_URL or ACCRUAL_SYSTEM_ADDRESS: SQLite, a filesystem broker and
    the bundled simulator with its demo data, all started by `gophermart`."""
    port, simulator_port = free_port(), free_port()
    env = service_env("", tmp_path, RUN_ADDRESS=f"127.0.0.1:{port}", SIMULATOR_ADDRESS=f"127.0.0.1:{simulator_port}")
    env.pop("DATABASE_URI")
    with serving(gophermart_command(), env, port) as process:
        base = f"http://127.0.0.1:{port}"
        demo = subprocess.run(
            [
                sys.executable,
                str(PROJECT_ROOT / "scripts" / "demo.py"),
                "--api",
                base,
                "--accrual",
                f"http://127.0.0.1:{simulator_port}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "✓ the whole story works" in demo.stdout
        shopper = signed_up(base, "a", "b")
        # 12345678903 is one of the simulator's demo orders: Pringles and Coca-Cola, 27.25 points.
        assert shopper.post(f"{base}/api/user/orders", data="12345678903").status_code == 202
        deadline = time.monotonic() + 30
        while shopper.get(f"{base}/api/user/orders").json()[0]["status"] != "PROCESSED":
            assert time.monotonic() < deadline, "the demo order did not reach PROCESSED"
            time.sleep(0.2)
        assert shopper.get(f"{base}/api/user/balance").json() == {"current": 27.25, "withdrawn": 0}
        spend = shopper.post(f"{base}/api/user/balance/withdraw", json={"order": "2377225624", "sum": 27.25})
        assert spend.status_code == 200
        assert (tmp_path / "gophermart.sqlite3").exists()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


def test_flask_shell_preloads_db_models_and_tasks(app):
    with app.app_context():
        context = app.make_shell_context()
    assert {"db", "User", "Order", "OrderStatus", "Withdrawal", "check_order", "sweep"} <= set(context)
    assert context["check_order"].name == "gophermart.check_order"


def test_flask_requeue_makes_orders_due_now(app, register):
    from datetime import timedelta

    from gophermart.extensions import db
    from gophermart.models import Order, utcnow
    from tests.support.factories import luhn_number

    register("requeue")
    with app.app_context():
        user_id = db.session.execute(db.text("SELECT id FROM users")).scalar_one()
        later = utcnow() + timedelta(hours=1)
        db.session.add_all(
            [
                Order(number=luhn_number(800 + i), user_id=user_id, next_check_at=later, parked_at=utcnow())
                for i in range(3)
            ]
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["requeue", "--status", "NEW"])
    assert result.exit_code == 0 and "3 orders due for a check now" in result.output
    with app.app_context():
        orders = db.session.execute(db.select(Order)).scalars().all()
        assert all(o.next_check_at <= utcnow() and o.parked_at is None for o in orders)


def test_flask_settings_hides_secrets(app):
    result = app.test_cli_runner().invoke(args=["settings"])
    assert result.exit_code == 0 and "run_address = " in result.output
    assert app.secret_key not in result.output
