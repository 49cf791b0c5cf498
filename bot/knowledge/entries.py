"""What a knowledge file turns into, and what a search returns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

EntryKind = Literal["faq", "passage"]


@dataclass(frozen=True)
class Entry:
    """One FAQ entry (a question and its answer) or one passage of free text."""

    source: str  # path relative to the knowledge dir, with forward slashes
    question: str  # exactly as written in the file; for a passage, its heading or first line
    answer: str
    line: int = 0  # where it starts in its file (1-based; 0 when unknown)
    similar: tuple[str, ...] = ()
    category: str = ""
    tags: tuple[str, ...] = ()
    kind: EntryKind = "faq"
    ordinal: int = 0  # a passage's position among its file's passages

    @cached_property  # a sync asks for both several times per entry, 10,000 entries a run
    def id(self) -> str:
        """Stable across edits of the answer: file + question (passages: file + position)."""
        key = f"{self.source}\x1f{self.question if self.kind == 'faq' else self.ordinal}"
        return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]

    @cached_property
    def content_hash(self) -> str:
        payload = json.dumps(
            [self.question, self.answer, self.similar, self.category, self.tags, self.kind],
            ensure_ascii=False,
        )
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The texts a customer's question is matched against: the question, then its alternatives."""
        return (self.question, *self.similar)


@dataclass
class Hit:
    """One entry found for a query, with the signals the answer-or-hand-off gate reads."""

    id: str
    question: str
    answer: str
    source: str
    score: float  # fused score, higher is better; comparable only within one search
    category: str = ""
    kind: EntryKind = "faq"
    matched: str = ""  # the phrasing (question or similar question) that matched best
    dense: float = 0.0  # best cosine similarity of the query to any phrasing
    lexical: float = 0.0  # best BM25 score of the query against any phrasing
    dense_rank: int | None = None  # 1-based rank among entries by dense score
    lexical_rank: int | None = None
    passage: float = 0.0  # cosine of the query to the entry's question and answer, read as a passage
    sentence: float = 0.0  # best cosine of the query to one sentence of the answer (else `passage`)
    extra: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "source": self.source,
            "score": round(self.score, 6),
        }
