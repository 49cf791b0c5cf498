"""Several bot processes sharing one Chroma server and one database: each follows the others' syncs.

Chroma is shared, but every process keeps its own lexical index and passage matrix in memory
(built from Chroma). So a sync, last of all and still under the writer lock, writes the content
generation it left into the database (`KnowledgeStamp`, one row per collection). Every process
that searches reads that row at most every `CHECK_SECONDS`; when it names content other than the
lexical index in use, the index is rebuilt from Chroma and the passages reloaded, and anything
else cached from the FAQ (the gate's calibration) is told through `listeners`.

Two syncs at once, from two hosts, would both write the shared collection: with PostgreSQL the
writer lock includes a session advisory lock (`AdvisoryLock`), which every host shares.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from bot.config import Settings
from bot.knowledge.lock import LOCK_FILE, FileLock, poll_until_held

if TYPE_CHECKING:
    from bot.knowledge.base import KnowledgeBase

logger = logging.getLogger(__name__)

CHECK_SECONDS = 2.0


class Replica:
    """Publish this process's syncs and follow other processes' (see the module docstring)."""

    def __init__(self, engine: Callable[[], Engine | None], collection: str) -> None:
        self._engine = engine  # None when the database is unusable: then there is nothing to follow
        self.collection = collection
        self.listeners: list[Callable[[], None]] = []  # called after catching up with another sync
        self._next_check = 0.0
        self._seen: str | None = None

    def publish(self, generation: str, entries: int) -> None:
        """Record the generation a sync just completed (called under the writer lock)."""
        from bot.memory.models import KnowledgeStamp, utcnow

        engine = self._engine()
        if engine is None:
            return
        try:
            with Session(engine) as session:
                session.merge(KnowledgeStamp(
                    collection=self.collection, generation=generation, entries=entries, updated_at=utcnow()
                ))
                session.commit()
        except Exception as error:  # the sync itself succeeded; other replicas just catch up later
            logger.warning("could not record the sync in the database for other replicas: %s", error)
            return
        self._seen = generation

    def published(self) -> str | None:
        from bot.memory.models import KnowledgeStamp

        engine = self._engine()
        if engine is None:
            return None
        with Session(engine) as session:
            row = session.get(KnowledgeStamp, self.collection)
            return row.generation if row else None

    def follow(self, kb: KnowledgeBase) -> bool:
        """Catch up with another process's sync, if one happened; cheap when called often."""
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + CHECK_SECONDS
        try:
            generation = self.published()
        except Exception as error:
            logger.debug("could not read the replicas' sync stamp: %s", error)
            return False
        if generation is None or generation == self._seen:
            return False
        self._seen = generation
        # Reloaded whatever the content: a sync may have rewritten the passage records in a new
        # form without changing it (it then publishes `<generation>/<form>`).
        kb._passages = None
        if kb.lexical.stamp == generation.partition("/")[0]:  # loads the saved index first, if not yet loaded
            return False
        logger.info("another process synced the knowledge base; reloading the lexical index")
        kb._passages = None
        kb._lexical = kb._build_lexical()
        # Saved for the next start here, unless a local sync is writing it right now.
        local = FileLock(kb.settings.data_dir / LOCK_FILE)
        if local.try_acquire():
            try:
                kb._lexical.save(kb._lexical_dir)
            finally:
                local.release()
        for listener in self.listeners:
            listener()
        return True


def _lock_key(settings: Settings) -> int:
    # One key per shared Chroma server: every host syncing into it contends for the same lock.
    digest = hashlib.sha1(f"dianxiaoer sync {settings.chroma_url}".encode()).hexdigest()
    return int(digest[:15], 16)


class AdvisoryLock:
    """A PostgreSQL session advisory lock, held on its own connection for the whole sync.

    PostgreSQL releases it when that connection ends, so a killed sync never leaves it held.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.key = _lock_key(settings)
        self._engine: Engine | None = None
        self._connection: Any = None

    def try_acquire(self) -> bool:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        if self._engine is None:
            self._engine = create_engine(self.settings.sqlalchemy_url, poolclass=NullPool)
        connection = self._engine.connect()
        try:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
            connection.commit()
        except BaseException:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True

    def acquire(self, timeout: float, waiting: Callable[[str], None]) -> None:
        poll_until_held(self, timeout, waiting, lambda holder: (
            f"另一台机器上的同步仍在进行（{holder}），等了 {timeout:.0f} 秒仍未结束；请稍后再试"
        ))

    def holder(self) -> str:
        assert self._engine is not None
        try:
            with self._engine.connect() as connection:
                row = connection.execute(text(
                    "SELECT a.client_addr, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted "
                    "AND ((l.classid::bigint << 32) | l.objid::bigint) = :key"
                ), {"key": self.key}).first()
        except Exception:
            row = None
        return f"数据库会话 {row.pid}，来自 {row.client_addr or '本机'}" if row else "数据库里的另一个会话"

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                connection.commit()
            finally:
                connection.close()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def shared_lock(settings: Settings) -> AdvisoryLock | None:
    """The lock hosts sharing a Chroma server hold while syncing; None when nothing is shared."""
    if not settings.chroma_url or not settings.database_url:
        return None
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        return None
    return AdvisoryLock(settings)
