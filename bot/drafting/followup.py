"""Resolve a follow-up ("那它保质期多久") against what the customer asked before.

Retrieval sees one message at a time, so "它" must become "龙井" before the search. Only
messages that read as follow-ups (a pronoun, or an opening like 那/还有) are rewritten, and a
piece of one question sent in parts (「龙井」 then 「怎么泡」); a fresh question is never
contaminated with an old topic. A reading merged with the earlier topic is checked against the
message searched alone (`inherited_wrongly`): 「那偏远地区呢」 after 「能开发票吗」 must not inherit
the invoice entry with the confidence the invoice words earn.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from bot.knowledge.entries import Hit
from bot.knowledge.lexical import LexicalIndex, coverage
from bot.policy.universal import SMALL_TALK

PRONOUN = re.compile(r"它们|它|这个|那个|这款|那款|这种|那种|这茶|那茶|这把|那把|这套|那套|该产品|这家")
OPENING = re.compile(r"^\s*(?:那么|那|还有|另外|再问一下|再问下|顺便问下|然后)")
# Nouns that never name what a customer is asking about.
GENERIC = {"问题", "东西", "时候", "朋友", "客服", "老板", "亲", "你们", "我们", "请问", "谢谢", "时间"}
# A piece of a question asks something; a bare topic (「龙井」) names something and asks nothing.
_QUESTION = re.compile(r"[？?]|吗|呢|么|嘛|啥|什么|怎|多少|多久|多长|几|哪|能不能|可不可以|是不是|有没有")
_NOT_WORDS = re.compile(r"[\W_]+")
MAX_BARE_TOPIC = 8


def bare_topic(message: str) -> str | None:
    """The message when it only names something (「龙井」「明前龙井。」): a question sent in pieces."""
    words = _NOT_WORDS.sub("", message)
    if not 2 <= len(words) <= MAX_BARE_TOPIC or _QUESTION.search(words):
        return None
    topic = topic_of(words)
    return words if topic is not None and len(words) - len(topic) <= 2 else None


def looks_like_followup(message: str) -> bool:
    return bool(PRONOUN.search(message) or OPENING.match(message))


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


def ends_with_verb(text: str) -> bool:
    """Whether `text`'s last word is a verb (「积分能抵」「还要补」): what is priced is an act."""
    tokens = list(_jieba().cut(text))
    return bool(tokens) and tokens[-1].flag.startswith("v") and tokens[-1].flag != "vn"


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
        # 「龙井」 then 「怎么泡」: one question sent in pieces; the piece that names nothing is read
        # with the bare topic sent just before it, and alone.
        earlier = bare_topic(earlier_customer_messages[-1]) if earlier_customer_messages else None
        if (earlier and earlier not in message and _QUESTION.search(message) and not SMALL_TALK.match(message)
                and topic_of(message) is None):
            return [earlier + message, message]
        return [message]
    topic = next((t for t in map(topic_of, reversed(earlier_customer_messages)) if t), None)
    if topic is None or topic in message:
        return [message]
    if PRONOUN.search(message):
        return [PRONOUN.sub(topic, message, count=1)]
    with_topic = OPENING.sub(lambda m: m.group(0) + topic, message, count=1)
    return [with_topic, message] if topic_of(message) else [with_topic]


# What a follow-up says around its own words: 「那…呢」「还有…吗」 (stripped, not matched: a
# pattern anchored at the end retries from every character of a long run).
_CLOSING = "呢吗嘛么啊呀吧哦？?！!。，,~～ \t\r\n"
FOLLOWUP_RULE = "followup_topic"


def own_words(message: str) -> str:
    """What a follow-up adds of its own: 「那偏远地区呢」 → 「偏远地区」 (empty for 「那它呢」)."""
    words = PRONOUN.sub("", OPENING.sub("", message, count=1))
    return words.rstrip(_CLOSING).strip()


def needs_checking(message: str) -> bool:
    """Whether a follow-up read with the earlier topic must be checked against itself alone: it
    adds words of its own, and no pronoun points back (「这个能放冰箱吗」 after 龙井 asks about
    龙井 whatever entry 「能放冰箱」 alone finds)."""
    return bool(own_words(message)) and not PRONOUN.search(message)


def about_another_subject(query: str, entry: Hit, lexical: LexicalIndex) -> bool:
    """Whether `entry` is about another product than the one the merged `query` names: 「那能放冰箱吗」
    after 龙井 finds the 普洱 storage entry alone, but the customer still means 龙井 (the
    policy's subject rule, alone: the trade's facets judge the fragment's words, not the topic)."""
    from bot.policy.evaluate import entry_view
    from bot.policy.subjects import SWAPPED_SUBJECT

    return SWAPPED_SUBJECT.match(query, entry_view(entry, lexical)) is not None


def owns(words: str, entry_texts: Sequence[str]) -> float:
    """How much of `words` an entry states (its phrasings and answer): share of character bigrams."""
    return coverage(words, entry_texts) if words else 0.0


def inherited_wrongly(message: str, merged_top: Hit, alone_top: Hit, texts: Callable[[Hit], Sequence[str]]) -> str | None:
    """Why the entry found for a follow-up read with the earlier topic must not be trusted, or None.

    Merging 「那偏远地区呢」 with 「能开发票吗」 finds the invoice entry, with the confidence the
    invoice words earn; the fragment's own words (偏远地区) point elsewhere. When the fragment
    searched alone finds another entry, and the merged entry does not state the fragment's words
    at least as well as that one does, the two readings disagree and the merge is not evidence.
    `texts` gives an entry's phrasings and answer.
    """
    if merged_top.id == alone_top.id:
        return None
    words = own_words(message)
    if not words:
        return None  # 「那它呢」 adds nothing to check: the earlier topic is all there is
    merged, alone = owns(words, texts(merged_top)), owns(words, texts(alone_top))
    if merged > 0 and merged >= alone:
        return None  # 「那保质期呢」 after 普洱: the 普洱 entry states 保质期 itself
    return (f"追问「{message}」接着前面的话读是「{merged_top.question}」，单独读更接近「{alone_top.question}」，"
            f"「{words}」不在前一个条目里：两种读法不一致，请确认客户问的是哪一件")
