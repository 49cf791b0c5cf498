"""The database engine: SQLite in DATA_DIR by default, any SQLAlchemy URL via DATABASE_URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel, create_engine

from bot.config import Settings
from bot.memory import models  # noqa: F401  (registers the tables)


def make_engine(settings: Settings) -> Engine:
    """Connect to `settings.sqlalchemy_url`, creating a SQLite file's folder when needed."""
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, or every session would see its own empty database.
        engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    else:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
        engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        if not in_memory:
            # WAL + NORMAL: a crash loses at most the last commit, and a reply is not
            # held up by an fsync per message.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def init_db(engine: Engine) -> None:
    """Create any missing tables (existing ones are left as they are)."""
    SQLModel.metadata.create_all(engine)
