"""The services a command runs on: built from the settings once, closed when the command ends."""

from __future__ import annotations

import click

from bot.config import Settings, load_settings
from bot.services import Services


def command_services(settings: Settings | None = None) -> Services:
    """This command's `Services`; the database is checkpointed and closed when the command exits."""
    services = Services(settings or load_settings())
    click.get_current_context().call_on_close(services.close)
    return services


def warn_without_memory(services: Services) -> None:
    # stderr, so --json output stays clean.
    if services.memory_warning:
        click.secho(services.memory_warning, fg="yellow", err=True)
