"""The database engine: SQLite in DATA_DIR by default, any SQLAlchemy URL via DATABASE_URL.

Customer messages live here, so a SQLite file and its folder are created private to the user
(0600 / 0700). A file that cannot be read as a database is a `MemoryDatabaseError` naming it
and saying what to do; `close_engine` checkpoints the WAL so the .db file alone is complete.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import create_engine

from bot.config import Settings
from bot.errors import DianxiaoerError
from bot.memory import models  # noqa: F401  (registers the tables)


class MemoryDatabaseError(DianxiaoerError):
    """The memory database cannot be opened or read; the message names it and what to do."""


def sqlite_path(engine: Engine) -> Path | None:
    """The file behind a SQLite engine, or None (another database, or SQLite in memory)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def describe(engine: Engine) -> str:
    """Where the database is, for messages: the file, or the URL without its password (in the
    userinfo or in the query string, e.g. `?password=…`)."""
    path = sqlite_path(engine)
    return str(path) if path else _shown_url(engine.url)


# libpq takes the password (and sslpassword, …) as query parameters too; hide_password does not.
_SECRET_QUERY = re.compile(r"(?i)([?&][^=&#]*(?:pass|secret|token|key)[^=&#]*=)[^&#]*")


def _shown_url(url: Any) -> str:
    """`url` for a message: the user and host stay (pg_dump needs them), every password goes."""
    return _SECRET_QUERY.sub(r"\1***", url.render_as_string(hide_password=True))


def private_dir(path: Path, *, tighten: bool = True) -> None:
    """Create `path` (and missing parents) readable by this user only.

    An existing `path` is tightened to 0700 when `tighten` (the previous release made the data
    dir 0755); parents that already exist are never touched.
    """
    if path.is_dir():
        if tighten:
            _tighten(path, 0o700)
        return
    if not path.parent.exists():
        private_dir(path.parent)
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)  # mkdir's mode passes through the umask


def _tighten(path: Path, mode: int) -> None:
    """Drop group and other permissions from `path` if it has any (and is ours to change)."""
    try:
        current = path.stat().st_mode & 0o777
        if current & 0o077:
            os.chmod(path, current & mode)
    except OSError:
        pass  # someone else's file or gone: not ours to fix, and not a reason to stop


def _private_file(path: Path) -> None:
    # SQLite creates -wal and -shm with the database file's mode, so this covers all three
    # for a new file; an existing one (0644 from the previous release) is tightened with them.
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        return
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists():
            _tighten(each, 0o600)


def make_engine(settings: Settings) -> Engine:
    """Connect to `settings.sqlalchemy_url`, creating a SQLite file (0600) and its folder (0700)."""
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, or every session would see its own empty database.
        engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    else:
        path = Path(url.database)  # type: ignore[arg-type]
        # The data dir is ours to tighten; a folder the user pointed DATABASE_URL into is not.
        private_dir(path.parent, tighten=_same_dir(path.parent, settings.data_dir))
        _private_file(path)
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

    if not in_memory:
        _one_writer_at_a_time(engine)
    return engine


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
WRITE_WAIT_SECONDS = 5.0  # then SQLite's own locking decides, as it would without this


def _one_writer_at_a_time(engine: Engine) -> None:
    """Threads of this process take turns to write, each transaction's writes under one lock.

    SQLite lets one transaction write at a time; the others sleep in its busy handler, in steps
    of 1, 2, 5, 10… ms, and wake to try again whether or not the lock is free. Under a burst of
    updates (drafting threads and the event loop all writing) the writer also waits for the GIL
    while it holds the file lock, and the sleepers convoy behind it. A Python lock hands over at
    once instead. Taken at a transaction's first write, released when it ends; another process
    still meets SQLite's own locking.
    """
    lock = threading.Lock()

    @event.listens_for(engine, "before_cursor_execute")
    def _take(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not conn.info.get("writing") and statement.lstrip()[:7].upper().startswith(WRITES):
            conn.info["writing"] = lock.acquire(timeout=WRITE_WAIT_SECONDS)

    def _release(conn: Any, *_: Any) -> None:
        if conn.info.pop("writing", False):
            lock.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)

    @event.listens_for(engine.pool, "checkin")
    def _returned(_dbapi: Any, record: Any) -> None:  # a connection closed mid-transaction
        if record is not None and record.info.pop("writing", False):
            lock.release()


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


MIGRATIONS = Path(__file__).with_name("migrations")
# The release before migrations: a database with its tables and no alembic_version is at this one.
BASELINE = "0001"
# pg_advisory_xact_lock key: one process migrates at a time, the others wait and find it done.
_MIGRATION_LOCK = 0x64786530


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at (None: no migration applied yet)."""
    from alembic.migration import MigrationContext

    with unreadable_as_error(engine), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory(str(MIGRATIONS)).get_current_head())


def init_db(engine: Engine) -> None:
    """Bring the schema up to date with the migrations in bot/memory/migrations (at every start).

    A database made by the release before migrations (its tables, no version) is taken to be
    at the baseline and migrated from there; rows are never dropped.
    """
    from alembic import command
    from sqlalchemy import inspect, text

    path = sqlite_path(engine)
    with unreadable_as_error(engine), _file_lock(path), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        tables = set(inspect(connection).get_table_names())
        config = _alembic_config(connection)
        if "alembic_version" not in tables and "customer" in tables:
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")


class _file_lock:  # noqa: N801
    """An exclusive lock beside a SQLite file while it migrates (SQLite DDL is not transactional here)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path.with_name(path.name + ".migrate-lock") if path else None
        self.fd: int | None = None

    def __enter__(self) -> None:
        if self.path is not None:
            import fcntl

            self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: Any) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None


class unreadable_as_error:  # noqa: N801  (used as `with unreadable_as_error(engine):`)
    """Turn "not a database" / "malformed" / "cannot connect" into a MemoryDatabaseError."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, _tb: Any) -> bool:
        if not isinstance(error, exc.DBAPIError | sqlite3.DatabaseError):
            return False
        from bot.logs import redact

        # A driver's message may repeat the connection string it was given.
        reason = redact(str(getattr(error, "orig", None) or error).splitlines()[0])
        where = describe(self.engine)
        path = sqlite_path(self.engine)
        if path is not None:
            raise MemoryDatabaseError(
                f"记忆数据库 {where} 无法读取（{reason}），可能已损坏。"
                f"请把它移走（mv {path} {path}.broken，连同同名的 -wal/-shm 文件），"
                "再运行会新建一个空库；要找回记录，用 dianxiaoer backup 做的备份覆盖它。"
            ) from error
        raise MemoryDatabaseError(
            f"连不上记忆数据库 {where}（{reason}）：检查 DIANXIAOER_DATABASE_URL 和数据库服务。"
        ) from error


def open_db(settings: Settings) -> Engine:
    """make_engine + init_db, with an unreadable database reported as a MemoryDatabaseError."""
    engine = make_engine(settings)
    try:
        init_db(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def close_engine(engine: Engine) -> None:
    """Checkpoint a SQLite WAL into the .db file (so copying that file copies everything), then close."""
    if sqlite_path(engine) is not None:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except exc.DBAPIError:
            pass  # another process holds the database; its own close checkpoints
    engine.dispose()


def backup(engine: Engine, target: Path) -> Path:
    """Copy a SQLite memory database to `target` (a file, or a folder to put a dated file in).

    SQLite's backup API reads a consistent snapshot, WAL included, while the bot keeps running.
    """
    from datetime import datetime

    source = sqlite_path(engine)
    if source is None:
        if engine.url.get_backend_name() == "postgresql":
            url = _shown_url(engine.url.set(drivername="postgresql"))
            raise MemoryDatabaseError(
                "记忆数据库在 PostgreSQL 上，请用它自己的工具备份："
                f"pg_dump --format=custom --file {target} '{url}'"
                "（密码放在 PGPASSWORD 或 ~/.pgpass 里；恢复用 pg_restore）。"
            )
        raise MemoryDatabaseError(f"{describe(engine)} 不是文件数据库，无法备份。")
    if not source.exists():
        raise MemoryDatabaseError(f"记忆数据库 {source} 还不存在：没有可备份的内容。")
    if target.is_dir():
        target = target / f"dianxiaoer-{datetime.now():%Y%m%d-%H%M%S}.db"
    if target.exists():
        raise MemoryDatabaseError(f"{target} 已存在：换一个文件名，或先把它移走。")
    if not target.parent.is_dir():
        raise MemoryDatabaseError(f"{target.parent} 不是已存在的文件夹。")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    _private_file(partial)
    try:
        with unreadable_as_error(engine):
            src = sqlite3.connect(source)
            try:
                dst = sqlite3.connect(partial)
                try:
                    src.backup(dst)
                finally:
                    dst.close()
            finally:
                src.close()
        # Written under another name first, so a killed backup never leaves a file that looks whole.
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
