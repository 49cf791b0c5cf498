"""An entry about one product does not answer the same question about another.

「白茶的保质期是多久」 lands on 「龙井的保质期多久？」 — every word but the product matches, so
every score says yes, and the reply would give 龙井's shelf life for 白茶. The question names
its subject first (as `topic_of` reads it); when another entry's question opens with it, the
matched entry's own subject is missing from the question, the two share no character (白茶
and 茶叶 do share one: a kind of tea is still tea) and the rest of the question is the
entry's, the entry is about something else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bot.drafting.followup import topic_of
from bot.knowledge.lexical import LexicalIndex, coverage
from bot.knowledge.topics import topic_start, topics

# How much of the rest of the question the entry's phrasings must cover for it to be the same
# question about another subject, rather than a different question altogether.
SAME_QUESTION = 0.3
# How many characters of a question to read for its subject.
OPENING = 10
# Nouns that name the order or a service, not a thing the shop sells.
_NOT_A_SUBJECT = frozenset(
    {"下单", "订单", "付款", "商品", "东西", "宝贝", "产品", "包裹", "店里", "店铺", "物流", "快递", "客服",
     "运费", "退款", "发票", "售后"}
)


# Topics of entries about handling an order, which apply to any product the shop sells.
AFTER_SALES = frozenset(
    {"damage", "defect", "missing", "wrong_item", "return", "exchange", "dispatch", "courier",
     "transit", "shipping_fee", "address", "invoice", "payment", "region", "warranty"}
)


# 「姐妹们 白茶开封后能放多久」「你们的白茶…」「上次买的白茶…」: whom the customer addresses,
# whose it is and when it was bought come before what they ask about.
_LEAD_IN = re.compile(
    r"^(?:[\s\W_]*(?:姐妹们?|家人们|宝子们?|宝们|亲们?|老板|掌柜|客服|您好|你好|请问|朋友们|集美们|hello|hi"
    r"|你们家?的?|你家的?|贵店的?|(?:上次|之前|前几天|刚才?|去年)买的)[\s\W_]*)+",
    re.I,
)


@lru_cache(maxsize=4096)
def _subject(text: str) -> str | None:
    # The subject comes first, and reading only the opening keeps jieba's guessing at unknown
    # words (most product names) cheap: every reply pays for this.
    subject = topic_of(_LEAD_IN.sub("", text)[:OPENING], modifiers=True)
    # jieba may fuse the product with what is asked about it: 「白茶保质期」 is about 白茶.
    cut = topic_start(subject) if subject else None
    return subject[:cut] if cut and cut >= 2 else subject


def _another_entry_is_about(subject: str, besides: str, lexical: LexicalIndex) -> bool:
    """Whether another entry's question opens with `subject` (its first two characters: 普洱熟茶
    and 普洱茶饼 are both 普洱), as FAQ questions name what they are about first."""
    return any(question != besides for question in lexical.questions_starting(subject[:2]))


def swapped_subject(
    query: str, entry_question: str, entry_texts: Sequence[str], lexical: LexicalIndex
) -> str | None:
    """Why the entry is about another subject than `query`, or None; `entry_texts` are the
    entry's phrasings (its question among them) and answer."""
    # 「收到的茶叶受潮或破损怎么办？」 serves whatever was bought: 「收到的龙井有点受潮」 is its question.
    if topics(entry_question) & AFTER_SALES:
        return None
    own = _subject(entry_question)
    if not own or own in _NOT_A_SUBJECT or own in query or own[:2] in query:
        return None
    asked = _subject(query)
    if not asked or asked in _NOT_A_SUBJECT:
        return None
    # Services (发货, 优惠券, 尺码) are what the customer wants done, not the thing asked about.
    if topics(own) or topics(asked) or set(own) & set(asked):
        return None
    # 「新白茶」「老白茶」: a word before a product that another entry opens with.
    named = [name for name in (asked, asked[1:])[: 2 if len(asked) >= 3 else 1]
             if _another_entry_is_about(name, entry_question, lexical)]
    if not named:
        return None
    asked = named[0]
    if any(asked in text for text in entry_texts):
        return None
    rest = query.replace(asked, own)
    if coverage(rest, entry_texts) < SAME_QUESTION:
        return None
    return f"顾客问的是「{asked}」，匹配到的条目讲的是「{own}」"
