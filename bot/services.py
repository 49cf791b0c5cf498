"""The one composition root: every long-lived object is built here, once, from one Settings.

The CLI builds a `Services` per command, the Telegram adapter one at start-up. Each object is
built on first use (a `check` never loads the embedding model), and they share what they share:
one embedder for the knowledge base and the gaps clustering, one database engine for the
assistant and the memory commands, so a server URL or backend set once applies everywhere.
"""

from __future__ import annotations

import gc
from functools import cached_property
from typing import Any

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.drafting.assistant import Assistant
from bot.knowledge.base import KnowledgeBase


class Services:
    def __init__(
        self, settings: Settings, *, knowledge: KnowledgeBase | None = None, embedder: Any = None
    ) -> None:
        self.settings = settings
        # Set when the memory database could not be read and answers go on without it.
        self.memory_warning: str | None = None
        if knowledge is not None:
            self.__dict__["knowledge"] = knowledge
        if embedder is not None:  # one already loaded (tests, benchmarks)
            self.__dict__["embedder"] = embedder

    @cached_property
    def embedder(self) -> Any:
        from bot.knowledge.embeddings import make_embeddings

        return make_embeddings(self.settings)

    @cached_property
    def knowledge(self) -> KnowledgeBase:
        from bot.memory.db import private_dir

        from bot.drafting.learning import DatabaseLearned
        from bot.policy.loader import use_shop_rules

        private_dir(self.settings.data_dir)
        # The shop's own hand-off rules (店小二规则.yaml in its knowledge folder), checked now.
        use_shop_rules(self.settings.knowledge_dir)
        # Every sync puts back what staff taught; not from a stand-in for an unreadable database.
        knowledge = KnowledgeBase(self.settings, embedder=self.embedder, learned=DatabaseLearned(self.usable_engine))
        if self.settings.chroma_url:
            # Replicas share the Chroma server: each follows the others' syncs through the database.
            from bot.knowledge.replica import Replica
            from bot.knowledge.store import collection_name

            knowledge.replica = Replica(self.usable_engine, collection_name(self.embedder))
        # The gate fits itself to this FAQ after every sync, reusing the fit while it is unchanged.
        from bot.drafting.calibration import calibrate_after_sync

        knowledge.after_sync.append(calibrate_after_sync)
        return knowledge

    @cached_property
    def engine(self) -> Engine:
        """The memory database, migrated to the current schema; a MemoryDatabaseError if unreadable."""
        from bot.memory.db import open_db, private_dir

        private_dir(self.settings.data_dir)
        return open_db(self.settings)

    def usable_engine(self) -> Engine | None:
        """The memory database, or None when it cannot be read (nothing else is attempted)."""
        from bot.memory.db import MemoryDatabaseError

        if self.memory_warning:
            return None
        try:
            return self.engine
        except MemoryDatabaseError:
            return None

    def memory_engine(self) -> Engine:
        """`engine`, or when it cannot be read an empty in-memory stand-in (see `memory_warning`).

        A broken memory file must not stop answers the FAQ can give.
        """
        from bot.memory.db import MemoryDatabaseError, open_db

        try:
            return self.engine
        except MemoryDatabaseError as error:
            self.memory_warning = f"{error} 这次先不带对话记忆回答（不读取也不保存）。"
            standin = open_db(self.settings.model_copy(update={"database_url": "sqlite://"}))
            self.__dict__["engine"] = standin
            return standin

    @cached_property
    def chat_model(self) -> Any:
        from bot.drafting.llm import make_chat_model

        return make_chat_model(self.settings)

    @cached_property
    def assistant(self) -> Assistant:
        assistant = Assistant(
            self.settings, knowledge=self.knowledge, engine=self.memory_engine(), chat_model=self.chat_model
        )
        # Load the lexical index now rather than on the first message, then move everything loaded
        # so far (model, indexes, ~200k objects at 10k entries) out of the garbage collector's reach:
        # it lives as long as the process, and a full collection that walks it takes ~90 ms, which
        # would otherwise land inside some customer's reply.
        # Collect first, so that start-up garbage is freed rather than frozen for good.
        assistant.knowledge.lexical  # noqa: B018
        assistant.knowledge.passages  # noqa: B018
        gc.collect()
        gc.freeze()
        return assistant

    @cached_property
    def push_writer(self) -> Any:
        from bot.push.writer import PushWriter

        return PushWriter(
            self.settings, engine=self.engine, knowledge=self.knowledge, chat_model=self.chat_model
        )

    @cached_property
    def checker_model(self) -> Any:
        """The promotional-copy checker's model trained on this shop's labels, or None (rules alone)."""
        from bot.compliance.model import load_model, model_path

        return load_model(model_path(self.settings))

    def close(self) -> None:
        """Checkpoint and close the database (a SQLite .db file is then complete on its own)."""
        engine = self.__dict__.pop("engine", None)
        if engine is not None:
            from bot.memory.db import close_engine

            close_engine(engine)

