"""Build the long-lived services once: the CLI per command, the Telegram adapter at start-up."""

from __future__ import annotations

import gc

from bot.config import Settings
from bot.drafting.assistant import Assistant
from bot.knowledge.base import KnowledgeBase


def build_assistant(settings: Settings, knowledge: KnowledgeBase | None = None) -> Assistant:
    from bot.drafting.llm import make_chat_model
    from bot.memory.db import init_db, make_engine

    engine = make_engine(settings)
    init_db(engine)
    assistant = Assistant(
        settings,
        knowledge=knowledge or KnowledgeBase(settings),
        engine=engine,
        chat_model=make_chat_model(settings),
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
