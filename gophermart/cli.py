"""The `gophermart` console script and the `flask` commands.

`gophermart` (or `gophermart web`) applies pending migrations and serves the API with
gunicorn on RUN_ADDRESS. Flags -a, -d and -r override their environment variables.
"""

from __future__ import annotations

import logging
import sys
from typing import Sequence

import click
from flask import Flask
from flask.cli import with_appcontext

from config import Settings, SettingsError, load_settings
from gophermart.logging import configure_logging

log = logging.getLogger("gophermart")

USAGE = "usage: gophermart [web|migrate] [-a host:port] [-d database-uri] [-r accrual-url]"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    role = args.pop(0) if args and not args[0].startswith("-") else "web"
    if role in ("-h", "--help", "help") or role not in ("web", "migrate"):
        print(USAGE, file=sys.stderr)
        return 0 if role in ("-h", "--help", "help") else 2
    try:
        settings = load_settings(args)
    except SettingsError as exc:
        print(f"gophermart: bad setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    apply_migrations(settings)
    if role == "web":
        from gophermart.web_server import serve

        serve(settings)
    return 0


def apply_migrations(settings: Settings) -> None:
    from flask_migrate import upgrade

    from gophermart import create_app

    app = create_app(settings)
    with app.app_context():
        upgrade()
    log.info("database schema is up to date", extra={"database": _redacted(settings.resolved_database_uri)})


def _redacted(uri: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(uri).render_as_string(hide_password=True)


def register_flask_commands(app: Flask) -> None:
    @app.cli.command("settings")
    @with_appcontext
    def show_settings() -> None:
        """Print the settings in force (secrets hidden)."""
        settings: Settings = app.config["SETTINGS"]
        for name, value in vars(settings).items():
            if name == "secret_key" and value:
                value = "***"
            if name == "database_uri" and value:
                value = _redacted(value)
            click.echo(f"{name} = {value}")
