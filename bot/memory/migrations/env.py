"""Alembic's entry point. `bot.memory.db.upgrade` passes its connection in `config.attributes`.

Run by hand (`alembic -c ...`) it connects to the configured database the way the product does.
Migrations are rendered as batch operations, so one migration file serves SQLite (which cannot
ALTER most things) and PostgreSQL alike.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from bot.memory import models  # noqa: F401  (the target of autogenerate)

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from bot.config import load_settings
    from bot.memory.db import make_engine

    engine = make_engine(load_settings())
    with engine.begin() as own:
        _run(own)
    engine.dispose()
