"""Resolve a follow-up ("那它保质期多久") against what the customer asked before.

Retrieval sees one message at a time, so "它" must become "龙井" before the search. Only
messages that read as follow-ups (a pronoun, or an opening like 那/还有) are rewritten; a
fresh question is never contaminated with an old topic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache

PRONOUN = re.compile(r"它们|它|这个|那个|这款|那款|这种|那种|这茶|那茶|这把|那把|这套|那套|该产品|这家")
OPENING = re.compile(r"^\s*(?:那么|那|还有|另外|再问一下|再问下|顺便问下|然后)")
# Nouns that never name what a customer is asking about.
GENERIC = {"问题", "东西", "时候", "朋友", "客服", "老板", "亲", "你们", "我们", "请问", "谢谢", "时间"}


def looks_like_followup(message: str) -> bool:
    return bool(PRONOUN.search(message) or OPENING.match(message))


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


def topic_of(text: str, *, modifiers: bool = False) -> str | None:
    """The first noun phrase in `text` (adjacent nouns joined: 普洱茶 + 饼 → 普洱茶饼).

    Customers put what they ask about first ("紫砂壶怎么开壶", "盖碗的材质"); later nouns tend
    to be the attribute asked for. With `modifiers`, one-character adjectives before a noun
    join it: jieba reads 新白茶 as 新 + 白 + 茶.
    """
    phrases: list[str] = []
    current = ""
    pending = ""  # one-character adjectives waiting for their noun
    for token in _jieba().cut(text):
        if (token.flag.startswith("n") or token.flag == "eng") and token.word not in GENERIC:
            current += pending + token.word
            pending = ""
        elif modifiers and token.flag == "a" and len(token.word) == 1 and not current:
            pending += token.word
        else:
            pending = ""
            if len(current) >= 2:
                phrases.append(current)
            current = ""
    if len(current) >= 2:
        phrases.append(current)
    return phrases[0] if phrases else None


def followup_candidates(message: str, earlier_customer_messages: Sequence[str]) -> list[str]:
    """Queries to try for `message`, most likely reading first; `earlier_…` is oldest first.

    A pronoun is replaced by the earlier topic outright. After a bare opening (那/还有) the
    message may name a new topic ("还有发票能开吗") or an attribute of the old one ("那保质期呢"),
    which grammar alone cannot tell apart, so both readings are returned for the gate to judge.
    """
    if not looks_like_followup(message):
        return [message]
    topic = next((t for t in map(topic_of, reversed(earlier_customer_messages)) if t), None)
    if topic is None or topic in message:
        return [message]
    if PRONOUN.search(message):
        return [PRONOUN.sub(topic, message, count=1)]
    with_topic = OPENING.sub(lambda m: m.group(0) + topic, message, count=1)
    return [with_topic, message] if topic_of(message) else [with_topic]
