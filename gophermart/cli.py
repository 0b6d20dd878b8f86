"""The `gophermart` console script and the `flask` commands.

    gophermart                 all in one: migrate, then web + worker + beat supervised
                               (+ the bundled accrual simulator if no accrual system is set)
    gophermart web             migrate, then serve the API with gunicorn on RUN_ADDRESS
    gophermart worker | beat   one Celery role (same as `celery -A celery_worker worker|beat`)
    gophermart migrate         apply pending migrations and exit

Flags -a, -d and -r override RUN_ADDRESS, DATABASE_URI and ACCRUAL_SYSTEM_ADDRESS.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Sequence

import click
from flask import Flask

from config import Settings, SettingsError, load_settings
from gophermart.logging import configure_logging

log = logging.getLogger("gophermart")

ROLES = ("all", "web", "worker", "beat", "migrate")
USAGE = "usage: gophermart [web|worker|beat|migrate] [-a host:port] [-d database-uri] [-r accrual-url]"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help", "help"):
        print(__doc__.strip() + "\n\n" + USAGE)
        return 0
    role = args.pop(0) if args and not args[0].startswith("-") else "all"
    skip_migrations = "--skip-migrations" in args
    args = [a for a in args if a != "--skip-migrations"]
    if role not in ROLES:
        print(f"gophermart: unknown role {role!r}\n{USAGE}", file=sys.stderr)
        return 2
    try:
        settings = load_settings(args)
        if role == "worker" and not settings.accrual_system_address:
            raise SettingsError("ACCRUAL_SYSTEM_ADDRESS (-r) is required for the worker")
    except SettingsError as exc:
        print(f"gophermart: bad setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if role == "web":
        from gophermart.web_server import prepare_metrics_dir

        prepare_metrics_dir(settings.instance_dir)
    if role in ("all", "web", "migrate") and not skip_migrations:
        apply_migrations(settings)
    if role == "web":
        from gophermart.web_server import serve

        serve(settings)
    elif role in ("worker", "beat"):
        return run_celery(role, settings)
    elif role == "all":
        return run_all_in_one(settings)
    return 0


def apply_migrations(settings: Settings) -> None:
    from flask_migrate import upgrade

    from gophermart import create_app

    app = create_app(settings)
    with app.app_context():
        upgrade()
    log.info("database schema is up to date", extra={"database": redacted(settings.resolved_database_uri)})


def run_celery(role: str, settings: Settings) -> int:
    from gophermart import create_app
    from gophermart.celery_app import QUEUE

    celery = create_app(settings).extensions["celery"]
    level = settings.log_level
    if role == "worker":
        # No gossip and no mingle: workers share nothing but the queue and the gate, and both
        # would add broker chatter, a second's wait at every (re)connect, and noisy log lines
        # on every Redis blip. Flower still sees every worker through its events.
        celery.worker_main(["worker", "-Q", QUEUE, "-c", str(settings.worker_concurrency), "-l", level,
                            "--without-gossip", "--without-mingle"])
    else:
        celery.start(["beat", "-l", level])
    return 0


def run_all_in_one(settings: Settings) -> int:
    from gophermart.supervisor import all_in_one_children, run_all

    simulator = None
    accrual = settings.accrual_system_address
    if not accrual:
        simulator = settings.simulator_address
        accrual = f"http://{simulator}"
    env = dict(
        os.environ,
        RUN_ADDRESS=settings.run_address,
        DATABASE_URI=settings.resolved_database_uri,
        ACCRUAL_SYSTEM_ADDRESS=accrual,
        INSTANCE_DIR=settings.instance_dir,
    )
    print(walkthrough(settings, accrual, simulator is not None), flush=True)
    return run_all(env, all_in_one_children(simulator))


def walkthrough(settings: Settings, accrual: str, bundled_simulator: bool) -> str:
    host, port = settings.bind
    api = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}"
    lines = [
        "",
        "Gophermart loyalty is starting:",
        f"  API              {api}   (health: {api}/healthz, metrics: {api}/metrics)",
        f"  accrual system   {accrual}" + ("   (bundled simulator with demo data)" if bundled_simulator else ""),
        f"  database         {redacted(settings.resolved_database_uri)}",
        f"  broker           {settings.redis_url or 'file-based, in ' + settings.instance_dir + '/broker'}",
        "",
        "Try it:",
        f"  .venv/bin/python scripts/demo.py --api {api} --accrual {accrual}",
        "or by hand:",
        f"  curl -si -X POST {api}/api/user/register -d '{{\"login\":\"me\",\"password\":\"pw\"}}'",
        f"  curl -si -X POST {api}/api/user/orders -H 'Authorization: Bearer <token>' -d 12345678903",
        f"  curl -s {api}/api/user/balance -H 'Authorization: Bearer <token>'",
        "Stop with Ctrl-C.",
        "",
    ]
    return "\n".join(lines)


def redacted(uri: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(uri).render_as_string(hide_password=True)


def register_flask_commands(app: Flask) -> None:
    @app.cli.command("settings")
    def show_settings() -> None:
        """Print the settings in force (secrets hidden)."""
        settings: Settings = app.config["SETTINGS"]
        for name, value in vars(settings).items():
            if name == "secret_key" and value:
                value = "***"
            elif name in ("database_uri", "redis_url") and value:
                value = redacted(value)
            click.echo(f"{name} = {value}")

    @app.cli.command("requeue")
    @click.option("--status", "statuses", multiple=True, default=("NEW", "PROCESSING"),
                  type=click.Choice(["NEW", "PROCESSING"]), show_default=True)
    def requeue_command(statuses: tuple[str, ...]) -> None:
        """Make orders of these statuses due for a check now (parked ones included)."""
        from gophermart.models import OrderStatus
        from gophermart.services.accrual_checks import requeue

        count = requeue([OrderStatus(s) for s in statuses])
        click.echo(f"{count} orders due for a check now")
