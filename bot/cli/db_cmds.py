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


@cli.group()
def db() -> None:
    """The memory database's schema (migrations are also applied at every start)."""


@db.command()
def upgrade() -> None:
    """Apply any migration the database lacks, and say from which version to which."""
    from sqlalchemy import inspect

    from bot.memory.db import (
        BASELINE, close_engine, describe, head_revision, init_db, make_engine, schema_revision,
        unreadable_as_error,
    )

    engine = make_engine(command_services().settings)
    try:
        before = schema_revision(engine)
        if before is None:
            with unreadable_as_error(engine):
                made_before = "customer" in inspect(engine).get_table_names()
            before_label = f"{BASELINE}（上一版本，迁移之前）" if made_before else "空库"
        else:
            before_label = before
        init_db(engine)
        after = schema_revision(engine)
        if before == after:
            click.echo(f"{describe(engine)}：已是最新版本 {after}")
        else:
            click.echo(f"{describe(engine)}：{before_label} → {after}")
        assert after == head_revision()
    finally:
        close_engine(engine)
