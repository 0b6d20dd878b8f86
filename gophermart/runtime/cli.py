"""The `gophermart` console script: one command per role, `--help` on each.

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
from collections.abc import Callable, Sequence
from typing import Any

import click

from config import Settings, SettingsError, load_settings
from config.settings import flag_fields, redacted
from gophermart.logging import configure_logging, formatter, resolve_format

log = logging.getLogger(__name__)


def settings_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """The settings' flags (-a, -d and -r: config.settings), on the group and on every role."""
    for spec in reversed(flag_fields()):
        meta = spec.metadata
        command = click.option(
            meta["flag"], spec.name, metavar=meta["metavar"], default=None, help=f"Overrides {meta['env']}."
        )(command)
    return command


def load(ctx: click.Context, flags: dict[str, str | None], role: str) -> Settings:
    """The settings of this run: the role's flags over the group's, over the environment."""
    merged = {**(ctx.obj or {}), **{k: v for k, v in flags.items() if v is not None}}
    try:
        settings = load_settings(flags=merged)
        if role == "worker" and not settings.accrual_system_address:
            raise SettingsError("ACCRUAL_SYSTEM_ADDRESS (-r) is required for the worker")
    except SettingsError as exc:
        raise BadSetting(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


class BadSetting(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"gophermart: bad setting: {self.message}", err=True)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@settings_flags
@click.pass_context
def cli(ctx: click.Context, **flags: str | None) -> None:
    """Gophermart loyalty. With no command: web, worker and beat in one supervised run,
    after migrating the database (and the bundled accrual simulator when no accrual
    system is set)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {k: v for k, v in flags.items() if v is not None}
        return
    settings = load(ctx, flags, "all")
    apply_migrations(settings)
    ctx.exit(run_all_in_one(settings))


@cli.command()
@settings_flags
@click.option("--skip-migrations", is_flag=True, help="Serve without migrating first (another process migrates).")
@click.pass_context
def web(ctx: click.Context, skip_migrations: bool, **flags: str | None) -> None:
    """Migrate, then serve the API with gunicorn on RUN_ADDRESS."""
    settings = load(ctx, flags, "web")
    from gophermart.runtime.web_server import prepare_server, serve

    prepare_server(settings)  # before the migrations' app imports prometheus_client
    if not skip_migrations:
        apply_migrations(settings)
    serve(settings)


@cli.command()
@settings_flags
@click.pass_context
def worker(ctx: click.Context, **flags: str | None) -> None:
    """A Celery worker checking orders with the accrual system (needs -r)."""
    run_celery("worker", load(ctx, flags, "worker"))


@cli.command()
@settings_flags
@click.pass_context
def beat(ctx: click.Context, **flags: str | None) -> None:
    """Celery beat: the sweep of overdue orders (run exactly one)."""
    run_celery("beat", load(ctx, flags, "beat"))


@cli.command()
@settings_flags
@click.pass_context
def migrate(ctx: click.Context, **flags: str | None) -> None:
    """Apply pending migrations and exit."""
    apply_migrations(load(ctx, flags, "migrate"))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return cli.main(args, prog_name="gophermart", standalone_mode=False) or 0
    except click.NoSuchOption as exc:
        click.echo(
            f"gophermart: bad setting: unknown argument {exc.option_name!r}; the flags are -a, -d and -r", err=True
        )
    except click.UsageError as exc:
        click.echo(f"gophermart: {exc.format_message()} (see gophermart --help)", err=True)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        return 130
    return 2


def apply_migrations(settings: Settings) -> None:
    from flask_migrate import upgrade

    from gophermart import create_app

    app = create_app(settings)
    with app.app_context():
        upgrade()
    log.info("database schema is up to date", extra={"database": redacted(settings.resolved_database_uri)})


def run_celery(role: str, settings: Settings) -> None:
    from gophermart import create_app
    from gophermart.accrual.queueing import QUEUE

    celery = create_app(settings).extensions["celery"]
    level = settings.log_level
    # Celery prints its banner straight to stdout: for a log collector, one line instead.
    quiet = ["--quiet"] if resolve_format(settings.log_format) == "json" else []
    if quiet:
        _celery_says_json()
        details = {"concurrency": settings.worker_concurrency} if role == "worker" else {}
        log.info(f"celery {role} starting", extra={"role": role, "queue": QUEUE, **details})
    if role == "worker":
        # No gossip and no mingle: workers share nothing but the queue and the gate, and both
        # would add broker chatter, a second's wait at every (re)connect, and noisy log lines
        # on every Redis blip. Flower still sees every worker through its events.
        celery.worker_main(
            [
                *quiet,
                "worker",
                "-Q",
                QUEUE,
                # A check waits on the network and the database: threads share one process's
                # connections and cost no pipe round trip per task, as prefork's processes do.
                "-P",
                "threads",
                "-c",
                str(settings.worker_concurrency),
                "-l",
                level,
                "--without-gossip",
                "--without-mingle",
            ]
        )
    else:
        celery.start([*quiet, "beat", "-l", level])


def _celery_says_json() -> None:
    """The worker's few lines from its signal handlers ("Warm shutdown") are written with a
    bare os.write, not logged (a signal may interrupt a log call holding its lock): in JSON
    mode they become the service's JSON lines, written the same lock-free way."""
    from celery.apps import worker as celery_worker

    json_lines = formatter("json")

    def say(msg: str, f: Any = sys.__stderr__) -> None:
        record = logging.makeLogRecord(
            {"name": "celery.apps.worker", "levelno": logging.INFO, "levelname": "INFO", "msg": str(msg).strip()}
        )
        os.write(f.fileno() if f is not None else 2, (json_lines.format(record) + "\n").encode())

    celery_worker.safe_say = say


def run_all_in_one(settings: Settings) -> int:
    from gophermart.runtime.supervisor import all_in_one_children, run_all

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
        # Decided once, here: every child (the bundled simulator too) writes the same format.
        LOG_FORMAT=resolve_format(settings.log_format),
    )
    announce_start(settings, accrual, simulator is not None)
    return run_all(env, all_in_one_children(simulator))


def announce_start(settings: Settings, accrual: str, bundled_simulator: bool) -> None:
    """The walkthrough for a person at a terminal; for a log collector, one log line."""
    if resolve_format(settings.log_format) == "text":
        print(walkthrough(settings, accrual, bundled_simulator), flush=True)
        return
    log.info(
        "gophermart is starting",
        extra={
            "api": api_url(settings),
            "accrual_system": accrual,
            "bundled_simulator": bundled_simulator,
            "database": redacted(settings.resolved_database_uri),
            "broker": broker_description(settings),
        },
    )


def api_url(settings: Settings) -> str:
    host, port = settings.bind
    return f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}"


def broker_description(settings: Settings) -> str:
    from gophermart.accrual.queueing import file_broker_dir

    return (
        redacted(settings.redis_url)
        if settings.redis_url
        else f"file-based, in {file_broker_dir(settings.instance_dir)}"
    )


def walkthrough(settings: Settings, accrual: str, bundled_simulator: bool) -> str:
    api = api_url(settings)
    lines = [
        "",
        "Gophermart loyalty is starting:",
        f"  API              {api}   (health: {api}/healthz, metrics: {api}/metrics)",
        f"  accrual system   {accrual}" + ("   (bundled simulator with demo data)" if bundled_simulator else ""),
        f"  database         {redacted(settings.resolved_database_uri)}",
        f"  broker           {broker_description(settings)}",
        "",
        "Try it:",
        f"  .venv/bin/python scripts/demo.py --api {api} --accrual {accrual}",
        "or by hand:",
        f'  curl -si -X POST {api}/api/user/register -d \'{{"login":"me","password":"pw"}}\'',
        f"  curl -si -X POST {api}/api/user/orders -H 'Authorization: Bearer <token>' -d 12345678903",
        f"  curl -s {api}/api/user/balance -H 'Authorization: Bearer <token>'",
        "Stop with Ctrl-C.",
        "",
    ]
    return "\n".join(lines)
