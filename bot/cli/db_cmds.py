"""`dianxiaoer backup PATH` and `dianxiaoer db upgrade`: the memory database's upkeep."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import cli
from bot.cli.wiring import command_services


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
def backup(path: Path) -> None:
    """Copy the memory database to PATH (a new file, or a folder for a dated file).

    \b
    SQLite is copied with its backup API: a consistent snapshot, the WAL included, safe while
    the bot runs. On PostgreSQL this prints the pg_dump command to use instead.
    """
    from bot.memory.db import backup as backup_db

    written = backup_db(command_services().engine, path)
    click.echo(f"已备份到 {written}")
