"""What a customer-service question is about, whatever the product.

Embeddings of short Chinese chat messages lean on the nouns: 「牛肉干拆开了还剩大半袋，放几天没事吧」
lands on the entry about 牛肉干, not on 「开封后怎么保存？」. A shop's FAQ is organised by what the
customer wants done — ship, return, store, invoice — so retrieval also asks whether a candidate
entry is about the same thing as the question. The topics are the ones every online shop's FAQ
has; the cue words are everyday ways of saying them, kept as data with the hand-off policy's
trade words (bot/policy/data/rules.yaml, `topics:`), which a shop may extend.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.knowledge.normalize import to_simplified
from bot.policy.loader import TradeWords, active_words

_compiled_for: TradeWords | None = None
_cues: tuple[tuple[str, re.Pattern[str]], ...] = ()


def cues() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(topic, compiled cue) of the trade words in force, recompiled when they change."""
    global _compiled_for, _cues
    words = active_words()
    if words is not _compiled_for:
        _cues = tuple((topic, re.compile(pattern)) for topic, pattern in words.topics)
        _compiled_for = words
        _topics.cache_clear()
    return _cues


def topics(text: str) -> frozenset[str]:
    """The customer-service topics `text` mentions (often none), in either script."""
    cues()  # clears the cache below when the trade words changed
    return _topics(text)


@lru_cache(maxsize=65536)
def _topics(text: str) -> frozenset[str]:
    text = to_simplified(text)
    return frozenset(topic for topic, cue in _cues if cue.search(text))


def topic_start(text: str) -> int | None:
    """Where the first topic cue in `text` begins (「白茶保质期」 → 2), or None."""
    starts = [m.start() for _, cue in cues() if (m := cue.search(text))]
    return min(starts, default=None)


def shared(query: str, entry_texts: tuple[str, ...]) -> float:
    """1.0 when the entry (any of its phrasings) is about something the query asks about,
    0.0 when the query names a topic the entry does not, 0.5 when the query names none."""
    wanted = topics(query)
    if not wanted:
        return 0.5
    return 1.0 if any(wanted & topics(text) for text in entry_texts) else 0.0
