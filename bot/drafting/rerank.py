"""Re-rank the top five before the gate: the gate can only answer with what comes first.

In shops nobody fitted on, the right entry is in the top five for about 97% of answerable
messages but first for 80–88%. Retrieval's fused score weighs every shop alike; these signals
are each read relative to this query's candidates and this FAQ's own term statistics, so a
small linear model over them, fitted on many shops' labelled questions as a choice among each
query's five (a softmax over them, `benchmarks/gate_fit.py`), carries to a shop it never saw:

* how close the message is to the entry's phrasings, to its answer and to the one sentence of
  the answer that fits it best, against the best of the five;
* how much of the message's wording the entry covers, each word weighted by how rare it is in
  this FAQ (IDF over its entries), for the phrasings alone and with the answer;
* the fused score's and the lexical score's distance from the leader;
* whether the entry is about what the message asks to have done (topics) and whether the match
  came from a phrasing staff taught (a learned phrasing).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from bot.knowledge.entries import Hit
from bot.knowledge.lexical import LexicalIndex, bigrams
from bot.knowledge.retrieve import own_phrasings
from bot.knowledge.topics import shared

CANDIDATE_FEATURES = (
    "dense",
    "dense_gap",
    "passage",
    "passage_gap",
    "fused_gap",
    "lexical_gap",
    "idf_phrasings",
    "idf_entry",
    "idf_gap",
    "topic",
    "learned",
    "first",
    "sentence",
    "sentence_gap",
)


class TermWeights:
    """IDF of each character bigram over this FAQ's entries (phrasings and answer together)."""

    def __init__(self, lexical: LexicalIndex) -> None:
        df: dict[str, int] = {}
        self.grams: dict[str, frozenset[str]] = {}
        self.phrasing_grams: dict[str, frozenset[str]] = {}
        for entry_id, meta in lexical.entries.items():
            own = frozenset().union(*(bigrams(p) for p in lexical.phrasings.get(entry_id, []) if p))
            both = own | bigrams(str(meta.get("answer", "")))
            self.phrasing_grams[entry_id] = own
            self.grams[entry_id] = both
            for g in both:
                df[g] = df.get(g, 0) + 1
        n = max(len(lexical.entries), 1)
        self.unseen = math.log(n + 1) + 1.0  # a word the FAQ never uses weighs most
        self.idf = {g: math.log((n + 1) / (c + 1)) + 1.0 for g, c in df.items()}

    def weight(self, gram: str) -> float:
        return self.idf.get(gram, self.unseen)


_terms: WeakKeyDictionary[LexicalIndex, TermWeights] = WeakKeyDictionary()
_terms_lock = threading.Lock()


def term_weights(lexical: LexicalIndex) -> TermWeights:
    """This index's term weights, computed once per loaded index (a re-sync builds a new one)."""
    with _terms_lock:
        found = _terms.get(lexical)
        if found is None:
            found = _terms[lexical] = TermWeights(lexical)
        return found


def _idf_coverage(wanted: dict[str, float], have: frozenset[str] | set[str]) -> float:
    total = sum(wanted.values())
    return sum(w for g, w in wanted.items() if g in have) / total if total else 0.0


def candidate_features(query: str, hits: Sequence[Hit], lexical: LexicalIndex) -> list[dict[str, float]]:
    """The re-ranker's inputs for each hit, relative to the other hits of the same query."""
    if not hits:
        return []
    # A view with phrasings left out (calibration.LeftOut) shares its index's term statistics.
    terms = term_weights(getattr(lexical, "base", lexical))
    changed: dict[str, list[str]] = getattr(lexical, "changed", {})
    wanted = {g: terms.weight(g) for g in bigrams(query)}
    best_dense = max(h.dense for h in hits)
    best_passage = max(h.passage for h in hits)
    best_score = max(h.score for h in hits)
    best_lex = max(h.lexical for h in hits) or 1.0
    best_sentence = max(h.sentence for h in hits)
    learned = learned_texts(getattr(lexical, "base", lexical))
    own_topics = own_phrasings(lexical)
    rows = []
    covers = []
    for hit in hits:
        if hit.id in changed:
            own = frozenset().union(*(bigrams(p) for p in changed[hit.id] if p))
            entry = own | bigrams(hit.answer)
        else:
            own = terms.phrasing_grams.get(hit.id) or frozenset(bigrams(hit.question))
            entry = terms.grams.get(hit.id) or own | bigrams(hit.answer)
        covers.append((_idf_coverage(wanted, own), _idf_coverage(wanted, entry)))
    best_cover = max(c[1] for c in covers)
    for i, hit in enumerate(hits):
        rows.append({
            "dense": hit.dense,
            "dense_gap": hit.dense - best_dense,
            "passage": hit.passage,
            "passage_gap": hit.passage - best_passage,
            "fused_gap": hit.score - best_score,
            "lexical_gap": (hit.lexical - best_lex) / best_lex,
            "idf_phrasings": covers[i][0],
            "idf_entry": covers[i][1],
            "idf_gap": covers[i][1] - best_cover,
            "topic": shared(query, tuple(own_topics.get(hit.id, [hit.question]))),
            "learned": float(hit.matched in learned),
            "first": float(i == 0),
            "sentence": hit.sentence,
            "sentence_gap": hit.sentence - best_sentence,
        })
    return rows


_learned: WeakKeyDictionary[LexicalIndex, frozenset[str]] = WeakKeyDictionary()


def learned_texts(lexical: LexicalIndex) -> frozenset[str]:
    """The phrasings staff taught (vector ids `<entry>:L<n>`), once per loaded index."""
    found = _learned.get(lexical)
    if found is None:
        found = _learned[lexical] = frozenset(d.text for d in lexical.docs if d.learned)
    return found


@dataclass(frozen=True)
class Reranker:
    """A linear score over `CANDIDATE_FEATURES`; a softmax of the scores of one query's
    candidates is the model's probability that each is the right entry (fitted so)."""

    weights: dict[str, float]
    bias: float

    def scores(self, query: str, hits: Sequence[Hit], lexical: LexicalIndex) -> list[float]:
        return [
            self.bias + sum(self.weights.get(name, 0.0) * row[name] for name in CANDIDATE_FEATURES)
            for row in candidate_features(query, hits, lexical)
        ]

    def order(self, query: str, hits: Sequence[Hit], lexical: LexicalIndex) -> list[Hit]:
        """The hits, best first by the model; each hit's `extra["rerank"]` holds its logit."""
        if len(hits) < 2 or not self.weights:
            return list(hits)
        scored = self.scores(query, hits, lexical)
        for hit, s in zip(hits, scored):
            hit.extra["rerank"] = s
        return [hits[i] for i in sorted(range(len(hits)), key=lambda i: -scored[i])]
