"""What a hand-off rule is: a named record that says what it asks, what answers it and why.

Like bot/compliance/rules.py's `Rule`, every rule carries its own examples: questions it must
fire on and questions it must let through, each against an entry. The tests are generated from
them (tests/test_policy.py), so a rule cannot change what it does without its examples saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.knowledge.lexical import LexicalIndex

Kind = Literal["universal", "condition", "facet", "subject"]

# The entry an example is judged against when it names none: it speaks of nothing a rule asks for.
NEUTRAL_ENTRY = ("这个怎么样？", "好的。")


@dataclass(frozen=True)
class Example:
    """A customer's question and the matched entry (its question, then its answer)."""

    question: str
    entry: tuple[str, str] = NEUTRAL_ENTRY
    where: str = ""  # file:line it was read from, for a failing test to point at


@dataclass(frozen=True)
class EntryView:
    """The matched entry as the rules read it, in Simplified characters."""

    question: str
    answer: str
    phrasings: tuple[str, ...]  # its question and the similar questions the shop wrote
    lexical: LexicalIndex | None = field(default=None, compare=False)  # the whole FAQ, for the subject rule
    learned: frozenset[str] = frozenset()  # messages staff said it answers (bot/drafting/learning.py)

    @cached_property
    def texts(self) -> str:
        return "\n".join((self.answer, *self.phrasings))


@dataclass(frozen=True)
class Rule:
    """One reason a matched entry cannot answer a question, whatever the score.

    `asked` finds the need in the question; `addressed` says the entry settles it (for a
    condition, the answer alone must). A rule in code may instead give `check`, which returns
    the span it fired on and the sentence for staff (None: `reason`), or None.
    """

    id: str
    kind: Kind
    asks: str  # what the customer asks for, in words staff read
    answered_by: str  # what an entry must say to answer it
    reason: str  # the sentence shown to staff
    asked: re.Pattern[str] | None = None
    addressed: re.Pattern[str] | None = None
    check: Callable[[str, EntryView], tuple[tuple[int, int], str | None] | None] | None = field(
        default=None, compare=False
    )
    fires: tuple[Example, ...] = ()
    passes: tuple[Example, ...] = ()
    source: str = ""  # where it was defined: a file and line, or the module

    def match(self, question: str, entry: EntryView) -> RuleHit | None:
        """Whether this rule fires on `question` against `entry`, and where."""
        if self.check is not None:
            found = self.check(question, entry)
            if found is None:
                return None
            span, reason = found
            return RuleHit(self.id, reason or self.reason, span, question[span[0] : span[1]])
        assert self.asked is not None
        asked = self.asked.search(question)
        if asked is None:
            return None
        settles = self.addressed or self.asked
        if settles.search(entry.answer if self.kind == "condition" else entry.texts):
            return None
        return RuleHit(self.id, self.reason, asked.span(), asked.group())


@dataclass(frozen=True)
class RuleHit:
    """Why the matched entry cannot answer: the rule, the sentence for staff, where it fired."""

    rule: str  # the rule's id
    reason: str
    span: tuple[int, int]  # in the question as the rules read it (normalised)
    text: str  # the words at that span
