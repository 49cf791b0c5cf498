"""An entry about one product does not answer the same question about another.

「白茶的保质期是多久」 lands on 「龙井的保质期多久？」 — every word but the product matches, so
every score says yes, and the reply would give 龙井's shelf life for 白茶. The question names
its subject first (as `topic_of` reads it); when another entry's question opens with it, the
matched entry's own subject is missing from the question, the two share no character (白茶
and 茶叶 do share one: a kind of tea is still tea) and the rest of the question is the
entry's, the entry is about something else.

Which nouns are services rather than products, and which topics make an entry serve any
product, are trade words (`not_a_subject`, `after_sales` in bot/policy/data/rules.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bot.drafting.followup import topic_of
from bot.knowledge.lexical import LexicalIndex, coverage
from bot.knowledge.topics import topic_start, topics
from bot.policy.loader import active_words
from bot.policy.rules import EntryView, Example, Rule

# How much of the rest of the question the entry's phrasings must cover for it to be the same
# question about another subject, rather than a different question altogether.
SAME_QUESTION = 0.3
# How many characters of a question to read for its subject.
OPENING = 10

# 「姐妹们 白茶开封后能放多久」「你们的白茶…」「上次买的白茶…」: whom the customer addresses,
# whose it is and when it was bought come before what they ask about.
_LEAD_IN = re.compile(
    r"^(?:[\s\W_]*(?:姐妹们?|家人们|宝子们?|宝们|亲们?|老板|掌柜|客服|您好|你好|请问|朋友们|集美们|hello|hi"
    r"|你们家?的?|你家的?|贵店的?|(?:上次|之前|前几天|刚才?|去年)买的)[\s\W_]*)+",
    re.I,
)


def _opening(text: str) -> str:
    """Where a question names its subject: the start, after whom it addresses."""
    return _LEAD_IN.sub("", text)[:OPENING]


@lru_cache(maxsize=4096)
def _subject(text: str) -> str | None:
    # The subject comes first, and reading only the opening keeps jieba's guessing at unknown
    # words (most product names) cheap: every reply pays for this.
    subject = topic_of(_opening(text), modifiers=True)
    # jieba may fuse the product with what is asked about it: 「白茶保质期」 is about 白茶.
    cut = topic_start(subject) if subject else None
    return subject[:cut] if cut and cut >= 2 else subject


def _another_entry_is_about(subject: str, besides: str, lexical: LexicalIndex) -> bool:
    """Whether another entry's question opens with `subject` (its first two characters: 普洱熟茶
    and 普洱茶饼 are both 普洱), as FAQ questions name what they are about first."""
    return any(question != besides for question in lexical.questions_starting(subject[:2]))


def swapped_subject(
    query: str, entry_question: str, entry_texts: Sequence[str], lexical: LexicalIndex
) -> tuple[str, str] | None:
    """(the subject asked, the entry's own) when the entry is about another subject than
    `query`, or None; `entry_texts` are the entry's phrasings (its question among them) and answer."""
    words = active_words()
    # 「收到的茶叶受潮或破损怎么办？」 serves whatever was bought: 「收到的龙井有点受潮」 is its question.
    if topics(entry_question) & words.after_sales:
        return None
    # The subject asked is a piece of the question's opening, and counts only if its first two
    # characters open another entry's question: with no two characters of the opening that do,
    # the message needs no jieba cut at all (a tenth of a reply's Python when it does).
    opening = _opening(query)
    if not any(opening[i : i + 2] in lexical.question_openings for i in range(len(opening) - 1)):
        return None
    # Then the question's subject: one jieba cut per message, where the entry's is one per entry.
    asked = _subject(query)
    if not asked or asked in words.not_a_subject:
        return None
    # 「新白茶」「老白茶」: a word before a product that another entry opens with.
    named = [name for name in (asked, asked[1:])[: 2 if len(asked) >= 3 else 1]
             if _another_entry_is_about(name, entry_question, lexical)]
    if not named:
        return None
    own = _subject(entry_question)
    if not own or own in words.not_a_subject or own in query or own[:2] in query:
        return None
    # Services (发货, 优惠券, 尺码) are what the customer wants done, not the thing asked about.
    if topics(own) or topics(asked) or set(own) & set(asked):
        return None
    asked = named[0]
    if any(asked in text for text in entry_texts):
        return None
    rest = query.replace(asked, own)
    if coverage(rest, entry_texts) < SAME_QUESTION:
        return None
    return asked, own


def _check(question: str, entry: EntryView) -> tuple[tuple[int, int], str] | None:
    if entry.lexical is None or "swapped_subject" in active_words().off:
        return None
    found = swapped_subject(question, entry.question, [*entry.phrasings, entry.answer], entry.lexical)
    if found is None:
        return None
    asked, own = found
    start = question.find(asked)
    return (start, start + len(asked)), f"顾客问的是「{asked}」，匹配到的条目讲的是「{own}」"


# Its examples need a whole FAQ (another entry about the subject asked): tests/test_subjects.py.
SWAPPED_SUBJECT = Rule(
    "swapped_subject", "subject", "同一个问题问的是另一件商品", "条目本身讲的就是顾客问的商品",
    "顾客问的是另一件商品，匹配到的条目讲的不是它", check=_check, source=__name__,
    passes=(Example("龙井开封了能放多久", ("龙井的保质期多久？", "密封冷藏保质期 18 个月。")),),
)
