"""How much of one message the product reads.

A customer may paste a novel and staff may check a whole article; every pattern is linear, but
searching, gating and rewriting 100,000 characters still costs seconds that a chat cannot wait.
So a message longer than `Settings.max_message_chars` is cut there, and whoever reads the result
is told so (ask's reason and note, `check` and `search` on stderr): the cut is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings

DEFAULT_MAX_MESSAGE_CHARS = 2000
# Retrieval reads a message's first this many characters. FAQ questions are short, and the
# embedding model's cost grows with every token: on two cores 500 characters take about half a
# second to embed and 2,000 about two, where a reply has well under one. Everything else (rules,
# the gate, memory, the checker) reads up to the message cap.
SEARCH_CHARS = 200


@dataclass(frozen=True)
class Bounded:
    text: str  # what will be read: the message, or its first `limit` characters
    length: int  # the message's own length
    limit: int
    rest: str = ""  # what was not read

    @property
    def cut(self) -> bool:
        return self.length > self.limit

    @property
    def note(self) -> str | None:
        if not self.cut:
            return None
        return (
            f"消息有 {self.length} 字，超过上限 {self.limit} 字，只处理了前 {self.limit} 字"
            f"（上限由 DIANXIAOER_MAX_MESSAGE_CHARS 设置）"
        )


def max_message_chars(settings: Settings | None) -> int:
    return settings.max_message_chars if settings is not None else DEFAULT_MAX_MESSAGE_CHARS


def bound_message(text: str, settings: Settings | None = None, *, limit: int | None = None) -> Bounded:
    """`text` cut to the configured length (`limit` overrides the setting)."""
    limit = limit if limit is not None else max_message_chars(settings)
    return Bounded(text[:limit], len(text), limit, text[limit:])
