"""Decide what a reply rests on: which FAQ entries answer the message, and what is left over.

Planning is pure (no database, no LLM), so it is what the benchmarks measure and what the
composer and the LLM path both build on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.drafting.followup import (FOLLOWUP_RULE, about_another_subject, followup_candidates, inherited_wrongly,
                                    needs_checking, topic_of)
from bot.drafting.gate import Gate, GateDecision
from bot.policy.universal import SMALL_TALK
from bot.knowledge.entries import Hit
from bot.knowledge.lexical import LexicalIndex
from bot.knowledge.normalize import normalize_message
from bot.knowledge.topics import topics

# Where one message asks two things: "龙井怎么泡？保质期多久？", "包邮吗，另外能开发票吗".
_CLAUSE_BREAK = re.compile(r"[？?！!。；;\n]+|[，,]\s*(?=另外|还有|以及|顺便|再问)")
# 「想趁着假期囤点茶喝」 beside 「国庆放假你们还发货不？」 tells why, and asks nothing itself.
_ASKS = re.compile(
    r"[？?]|吗|呢|么|嘛|啥|什么|怎|多少|多久|多长|几|哪|谁|是否|能否|可否|有无|咋"
    r"|([能可要会行好有是对])[不没]\1|[不没](?:$|[\s，,。！!~～]|了$)|求|请|麻烦|帮我|给我"
)
MIN_CLAUSE = 3
MAX_PARTS = 3
TOP_K = 5

Search = Callable[[str, int], list[Hit]]


@dataclass
class Part:
    text: str  # the clause as the customer wrote it
    query: str  # what was searched (a follow-up names its topic)
    hits: list[Hit]
    decision: GateDecision


@dataclass
class ReplyPlan:
    answered: list[Part] = field(default_factory=list)
    pending: list[Part] = field(default_factory=list)  # parts the FAQ does not answer

    @property
    def handoff(self) -> bool:
        return not self.answered or bool(self.pending)

    @property
    def sources(self) -> list[Hit]:
        return [part.hits[0] for part in self.answered]

    @property
    def confidence(self) -> float:
        parts = self.answered or self.pending
        if not parts:
            return 0.0
        return min(p.decision.confidence for p in self.answered) if self.answered else max(
            p.decision.confidence for p in self.pending
        )

    @property
    def best_hits(self) -> list[Hit]:
        """The closest entries even when handing off, for staff to look at."""
        parts = self.answered or self.pending
        return parts[0].hits if parts else []


def split_clauses(message: str) -> list[str]:
    parts = [p.strip(" ，,、") for p in _CLAUSE_BREAK.split(message)]
    return [p for p in parts if len(p) >= MIN_CLAUSE and not SMALL_TALK.match(p)]


def asks_something(clause: str) -> bool:
    """Whether a clause asks or requests anything, rather than telling the story around it.
    A statement that names a service (「茶叶到了是碎的」) is a request all the same."""
    return bool(_ASKS.search(clause) or topics(clause))


def _best_reading(
    text: str, history: Sequence[str], search: Search, gate: Gate, lexical: LexicalIndex
) -> Part:
    def judge(query: str) -> Part:
        hits = gate.order(query, search(query, TOP_K), lexical)
        return Part(text, query, hits, gate.decide(query, hits, lexical))

    # Searched and judged in the FAQ's own script and words; `text` stays as the customer wrote it.
    fragment = normalize_message(text)
    readings = [judge(q) for q in followup_candidates(fragment, [normalize_message(h) for h in history])]
    best = max(readings, key=lambda p: p.decision.confidence)  # the first on ties
    merged = readings[0] if readings[0].query != fragment else None
    if merged is None or not merged.hits or not needs_checking(fragment):
        return best
    # A follow-up read with the earlier topic: checked against the fragment searched alone.
    alone = next((p for p in readings if p.query == fragment), None) or judge(fragment)
    if not alone.hits:
        return best
    if best is not merged:
        # Alone it scored higher, but the customer may still mean the earlier product:
        # 「那能放冰箱吗」 after 龙井 alone finds the 普洱 storage entry.
        if alone.hits[0].id == merged.hits[0].id or not about_another_subject(merged.query, alone.hits[0], lexical):
            return best
        doubt = (f"追问「{fragment}」接着前面的话读是问「{merged.query}」，单独读找到的「{alone.hits[0].question}」"
                 "说的是另一件商品：请确认客户问的是哪一件")
        best = merged
    else:
        doubt = inherited_wrongly(fragment, best.hits[0], alone.hits[0], lambda h: _entry_texts(h, lexical))
        if doubt is None:
            return best
        if alone.decision.answer and not about_another_subject(best.query, alone.hits[0], lexical):
            return alone  # the fragment's own words answer it: 「那运费呢」 after 「能开发票吗」
    both = [best.hits[0], alone.hits[0], *(h for h in best.hits[1:] if h.id != alone.hits[0].id)]
    # Not confident: the lower of the two readings, and below this shop's threshold.
    confidence = min(best.decision.confidence, alone.decision.confidence, gate.threshold - 0.01)
    return Part(text, best.query, both, GateDecision(
        False, max(confidence, 0.0), doubt, rule=FOLLOWUP_RULE, threshold=best.decision.threshold))


def _entry_texts(hit: Hit, lexical: LexicalIndex) -> list[str]:
    return [*lexical.phrasings.get(hit.id, [hit.question]), hit.answer]


def plan_reply(
    message: str,
    *,
    history: Sequence[str],
    search: Search,
    gate: Gate,
    lexical: LexicalIndex,
) -> ReplyPlan:
    """Plan a reply to `message`; `history` holds the customer's earlier messages, oldest first."""
    whole = _best_reading(message, history, search, gate, lexical)
    clauses = split_clauses(message)
    if len(clauses) < 2:
        return ReplyPlan(answered=[whole]) if whole.decision.answer else ReplyPlan(pending=[whole])

    parts: list[Part] = []
    context = list(history)
    for clause in clauses[:MAX_PARTS]:
        parts.append(_best_reading(clause, context, search, gate, lexical))
        context.append(clause)
    answered: list[Part] = []
    for part in parts:
        if part.decision.answer and all(part.hits[0].id != a.hits[0].id for a in answered):
            answered.append(part)
    pending = [p for p in parts if not p.decision.answer and (not answered or asks_something(p.text))]
    if len(answered) >= 2:
        return ReplyPlan(answered=answered, pending=pending)
    # Asked one thing in several sentences ("在吗？龙井怎么泡？", "请问一下。包邮吗？"): judge the
    # message as a whole, unless a clause names something of its own that no entry answers
    # (「…你们卖咖啡豆吗？」 must not be dropped).
    unanswered = answered and any(topic_of(normalize_message(p.text)) for p in pending)
    if whole.decision.answer and not unanswered:
        return ReplyPlan(answered=[whole])
    if answered:
        return ReplyPlan(answered=answered, pending=pending)
    return ReplyPlan(pending=[whole])
