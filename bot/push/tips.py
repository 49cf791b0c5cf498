"""A care tip from the FAQ for the product a push is about: service before selling.

A broadcast that only announces an offer is an ad; one that also says how to keep or enjoy what
it announces is worth reading. The tip is quoted from a FAQ entry (which is then cited), never
written: only an entry whose question is about the brief's own product (its product named in the
brief) and about using or caring for it (冲泡、保存、保质期…) qualifies. An entry on shipping or
returns never does — 「节假日照常发货」 under a brief announcing a holiday pause would contradict it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bot.knowledge.entries import Hit
from bot.push.facts import OFFER_WORDS

Search = Callable[[str, int], Sequence[Hit]]
Topic = Callable[[str], str | None]

CARE = re.compile(r"(怎么泡|冲泡|泡法|怎么喝|怎么煮|煮着喝|保存|储存|存放|保质期|放多久|怎么选|怎么挑|怎么用|使用方法|清洗|保养)")
_SENTENCE = re.compile(r"[^。；;！!\n]+")
MAX_TIP_CHARS = 80


def care_tip(brief: str, search: Search | None, topic: Topic) -> tuple[str, Hit] | None:
    """(the tip's sentence, its entry) for the product `brief` is about, or None."""
    if search is None:
        return None
    product = topic(brief) or ""
    # A brief that is itself about brewing or keeping needs no second tip saying it again.
    if len(product) < 2 or CARE.search(brief) or re.search(r"(泡|存)", brief):
        return None
    for hit in search(f"{product}怎么保存 怎么冲泡", 5):
        if hit.kind != "faq" or not CARE.search(hit.question):
            continue
        subject = topic(hit.question) or ""
        # The entry is about this brief's product: 「龙井的保质期多久？」 under 「明前龙井到货」.
        if len(subject) < 2 or subject not in brief:
            continue
        sentences = [s.strip(" ，,") for s in _SENTENCE.findall(hit.answer) if s.strip(" ，,")]
        if not sentences:
            continue
        tip = sentences[0]
        # An offer or a long sentence is not a tip.
        if len(tip) > MAX_TIP_CHARS or any(word in tip for word in OFFER_WORDS):
            continue
        return tip, hit
    return None
