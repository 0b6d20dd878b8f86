"""The `flask` command group: what developers and operators run beside the service."""

from __future__ import annotations

import click
from flask import Flask

from config import Settings
from config.settings import redacted


def register_commands(app: Flask) -> None:
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
    @click.option(
        "--status",
        "statuses",
        multiple=True,
        default=("NEW", "PROCESSING"),
        type=click.Choice(["NEW", "PROCESSING"]),
        show_default=True,
    )
    def requeue_command(statuses: tuple[str, ...]) -> None:
        """Make orders of these statuses due for a check now (parked ones included)."""
        from gophermart.accrual.checks import make_due_now
        from gophermart.models import OrderStatus

        count = make_due_now([OrderStatus(s) for s in statuses])
        click.echo(f"{count} orders due for a check now")
