"""Build the long-lived services once: the CLI per command, the Telegram adapter at start-up."""

from __future__ import annotations

from bot.config import Settings
from bot.drafting.assistant import Assistant
from bot.knowledge.base import KnowledgeBase


def build_assistant(settings: Settings, knowledge: KnowledgeBase | None = None) -> Assistant:
    from bot.drafting.llm import make_chat_model
    from bot.memory.db import init_db, make_engine

    engine = make_engine(settings)
    init_db(engine)
    return Assistant(
        settings,
        knowledge=knowledge or KnowledgeBase(settings),
        engine=engine,
        chat_model=make_chat_model(settings),
    )
