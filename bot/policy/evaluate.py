"""The one evaluator: which rule, if any, says the matched entry cannot answer the question.

Rules are tried in a fixed order and the first that fires decides: those that hold in any shop
(bot/policy/universal.py), then the trade's conditions and facets (data: the shipped
bot/policy/data/rules.yaml and a shop's 店小二规则.yaml), then the subject rule. The question is
read as the gate reads it (normalised, bot/knowledge/normalize.py); the entry in Simplified
characters, by the phrasings the shop wrote. What staff taught counts only for the very words
they judged (`evaluate_entry`).
"""

from __future__ import annotations

from collections import Counter

from bot.knowledge.entries import Hit
from bot.knowledge.lexical import LexicalIndex
from bot.knowledge.normalize import to_simplified
from bot.policy.loader import TradeWords, active_words
from bot.policy.rules import EntryView, Rule, RuleHit
from bot.policy.subjects import SWAPPED_SUBJECT
from bot.policy.universal import UNIVERSAL


_built: tuple[TradeWords | None, tuple[Rule, ...]] = (None, ())


def rules_in_force() -> tuple[Rule, ...]:
    """Every rule in the order it is tried, with the shop's rules file if one is in force."""
    global _built
    words = active_words()
    if _built[0] is not words:  # by identity: hashing 140 rules per question would cost more
        _built = (words, build_rules(words))
    return _built[1]


def build_rules(words: TradeWords) -> tuple[Rule, ...]:
    return (*UNIVERSAL, *words.conditions, *words.facets, SWAPPED_SUBJECT)


def entry_view(top: Hit, lexical: LexicalIndex | None) -> EntryView:
    """The matched entry as the rules read it: Simplified characters (a shop may write its FAQ
    in Traditional), its own phrasings from the index, and apart from them what staff taught."""
    phrasings = lexical.phrasings.get(top.id, [top.question]) if lexical is not None else [top.question]
    taught = _learned(lexical).get(top.id) if lexical is not None else None
    own = list(phrasings)
    if taught:
        left = Counter(taught)  # a learned text may repeat one the shop wrote: drop one each
        own = []
        for text in phrasings:
            if left[text]:
                left[text] -= 1
            else:
                own.append(text)
    return EntryView(
        to_simplified(top.question), to_simplified(top.answer), tuple(to_simplified(p) for p in own), lexical,
        frozenset(to_simplified(p) for p in taught or ()),
    )


def _learned(lexical: LexicalIndex) -> dict[str, frozenset[str]]:
    """Entry id → the phrasings staff taught it (a view of an index, as the gate's calibration
    makes, shares its index's)."""
    return getattr(lexical, "base", lexical).learned_texts


def evaluate_entry(query: str, entry: EntryView) -> RuleHit | None:
    """The first rule that fires. A message staff said this entry answers is judged only by the
    rules that hold in any shop: they already judged the trade's for these very words. Their
    words do not make the entry address anything else: a customer's message names more than
    the entry settles."""
    if query in entry.learned:
        return evaluate_entry_with(UNIVERSAL, query, entry)
    return evaluate_entry_with(rules_in_force(), query, entry)


def evaluate_entry_with(rules: tuple[Rule, ...], query: str, entry: EntryView) -> RuleHit | None:
    for rule in rules:
        hit = rule.match(query, entry)
        if hit is not None:
            return hit
    return None


def evaluate(query: str, top: Hit, lexical: LexicalIndex) -> RuleHit | None:
    """The rule that says `top` cannot answer `query` whatever the score, or None."""
    return evaluate_entry(query, entry_view(top, lexical))
