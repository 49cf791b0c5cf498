"""Hybrid retrieval: dense vectors from Chroma and BM25 over character n-grams, fused.

A cosine of 0.88 and a BM25 of 7.3 mean nothing to each other, so each signal is put on its own
scale first: scores are standardised (z-scores) within the query's candidates and then mixed,
dense weighted 0.6. On BQ dev this beat reciprocal-rank fusion by about two points of R@1
(benchmarks/retrieval_bq.py), because it keeps how far ahead the leader is, which ranks throw
away. Hits are deduplicated per entry (similar questions are extra vectors of the same entry).

The leading ten candidates are then re-ranked by how close the query is to each entry's
question and answer read as a passage (e5's query → passage task), and by topic: an entry about
what the question asks about (shipping, returns, storage…; bot/knowledge/topics.py) gets a bonus.
Phrasings say what an entry is about; the answer says what it settles, and customers' long
situated messages ("收到的是香辣的，我不吃辣，还没拆开") name a product and mean a service.
Weights (passage 1.0 × its z-score, topic +1.5) were chosen with benchmarks/rerank_weights.py on
six shops' labelled questions (benchmarks/data): mean top-1 on in-scope questions 0.851 → 0.903
over the earlier 0.4 / 0.6, while BQ, where an entry's answer merely repeats its question, keeps
R@1 ≥ 0.50 and R@5 ≥ 0.82 (a passage weight of 1.3 scored 0.004 higher on the shops and dropped
BQ R@5 to 0.817). Three shops written afterwards and never used for choosing are reported by
benchmarks/calibrate_gate.py.

Up to three entries on the question's topic from below the ten join them first: when a customer
names a product and a service (「订了三本书，包裹里只有两本」) both rankings chase the product, and
the entry about the service can sit too low for a bonus to reach. That lifted top-1 on two shops
first measured blind (stationery, outdoor) from 0.758 / 0.767 to 0.774 / 0.783 and left the six
shops above as they were.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Literal
from weakref import WeakKeyDictionary

import numpy as np

from bot.knowledge.entries import Hit
from bot.knowledge.lexical import LexicalIndex
from bot.knowledge.store import VectorStore
from bot.knowledge.topics import shared


@dataclass(frozen=True)
class FusionWeights:
    dense: float = 0.6
    lexical: float = 0.4
    method: Literal["zscore", "rrf"] = "zscore"
    rrf_k: float = 60.0
    candidates: int = 50  # per signal, before fusion
    passage: float = 1.0  # weight of the question-and-answer passage match when re-ranking
    rerank: int = 10  # how many fused candidates are re-ranked
    topic: float = 1.5  # bonus, in standard deviations, for an entry about what the question asks
    topic_pool: int = 3  # entries on the question's topic from below the re-ranked head that join it
    # A phrasing staff taught is a customer's whole message, products and circumstances included;
    # it should win only for a message really like it, not for every one naming the same product
    # (measured with benchmarks/gate_shops.py --feedback), so its cosine counts this much less
    # and it takes no part in the lexical ranking.
    learned_penalty: float = 0.03


@dataclass(frozen=True)
class Passages:
    """Each entry's question-and-answer passage vector (unit length), and its answer's sentence
    vectors (bot/knowledge/units.py), in memory."""

    ids: list[str]
    vectors: np.ndarray
    units: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "row", {entry_id: i for i, entry_id in enumerate(self.ids)})

    def sentences(self, vector: np.ndarray, entry_ids: list[str]) -> list[float | None]:
        """The best cosine of `vector` to one sentence of each entry's answer (None: none stored)."""
        found: list[float | None] = []
        for entry_id in entry_ids:
            rows = self.units.get(entry_id)
            found.append(float(np.max(rows.astype(np.float32) @ vector)) if rows is not None and len(rows) else None)
        return found

    def cosines(self, vector: np.ndarray, entry_ids: list[str]) -> list[float | None]:
        rows = [self.row.get(e) for e in entry_ids]  # type: ignore[attr-defined]
        known = [r for r in rows if r is not None]
        sims = iter(self.vectors[known] @ vector if known else [])
        return [float(next(sims)) if r is not None else None for r in rows]


_own: WeakKeyDictionary[LexicalIndex, dict[str, list[str]]] = WeakKeyDictionary()


def own_phrasings(lexical: LexicalIndex) -> dict[str, list[str]]:
    """Each entry's phrasings as the FAQ writes them, without those staff taught (vector ids
    `<entry>:L<n>`): a customer's long message names several topics, and would make its entry
    look like it is about all of them. Computed once per loaded index."""
    base = getattr(lexical, "base", lexical)  # a view with phrasings left out shares its index's
    found = _own.get(base)
    if found is None:
        found = {}
        for doc in base.docs:
            if not doc.learned:
                found.setdefault(doc.entry_id, []).append(doc.text)
        _own[base] = found
    return found


def _best_per_entry(pairs: list[tuple[str, float, str]]) -> list[tuple[str, float, str]]:
    """Keep each entry's best (score, matched text), ordered best first."""
    best: dict[str, tuple[str, float, str]] = {}
    for entry_id, score, text in pairs:
        if entry_id not in best or score > best[entry_id][1]:
            best[entry_id] = (entry_id, score, text)
    return sorted(best.values(), key=lambda item: -item[1])


def dense_ranking(
    store: VectorStore, lexical: LexicalIndex, vector: list[float], n: int, penalty: float = 0.0
) -> list[tuple[str, float, str]]:
    matrix = exact_vectors(store, lexical)
    if matrix is not None:
        cos = matrix @ np.asarray(vector, dtype=np.float32)
        k = min(n, cos.size)
        top = np.argpartition(-cos, k - 1)[:k]
        docs = lexical.docs
        found = [(docs[i].vector_id, float(cos[i])) for i in top[np.argsort(-cos[top], kind="stable")]]
    else:
        found = store.nearest(vector, n)
    pairs = []
    for vector_id, cos in found:
        doc = lexical.by_vector.get(vector_id)
        if doc is not None:  # else stored after the lexical index was built; the next sync rebuilds it
            pairs.append((doc.entry_id, cos - penalty if doc.learned else cos, doc.text))
    return _best_per_entry(pairs)


# Up to this many phrasing vectors, dense search is an exact product in memory, not Chroma's
# approximate graph: as fast or faster (0.3 ms at 10,000 here, 2.1 ms at 25,000 against Chroma's
# 1.3), and the same in every process. A small collection's graph is rebuilt from Chroma's log by
# each process that opens it, not always alike: a new process once passed by a vector whose twin
# (the same text in two passages) it found.
EXACT_LIMIT = 10_000
_exact: WeakKeyDictionary[LexicalIndex, np.ndarray | None] = WeakKeyDictionary()
_exact_lock = threading.Lock()


def exact_vectors(store: VectorStore, lexical: LexicalIndex) -> np.ndarray | None:
    """Every document's stored vector (unit length, rows aligned with `lexical.docs`), read once
    per loaded index; None for a larger FAQ, or when the store lacks one the index lists."""
    if not lexical.docs or len(lexical.docs) > EXACT_LIMIT:
        return None
    with _exact_lock:
        if lexical in _exact:
            return _exact[lexical]
        ids = [d.vector_id for d in lexical.docs]
        stored = store.embeddings(ids)
        matrix = None
        if len(stored) == len(ids):
            matrix = np.stack([stored[i] for i in ids])
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix /= np.where(norms == 0, 1, norms)
        _exact[lexical] = matrix
        return matrix


def carry_over(old: LexicalIndex, new: LexicalIndex, store: VectorStore, *, changed: set[str]) -> None:
    """Give `new`, the same FAQ as `old` with learned phrasings added or gone, what was computed
    for `old`: its own phrasings (learned ones are never among them) and its exact-search matrix,
    with only the vectors of `changed` (and of any row `old` lacks) read from the store. Read
    whole again, a 10,000-vector FAQ made the first search after each staff decision take 0.2 s
    instead of 2 ms."""
    if old in _own:
        _own[new] = _own[old]
    if not new.docs or len(new.docs) > EXACT_LIMIT:
        return
    with _exact_lock:
        matrix = _exact.get(old)
        if matrix is None:  # never searched (or read as too large): the next search reads it
            return
        rows = {d.vector_id: i for i, d in enumerate(old.docs)}
        fresh = [d.vector_id for d in new.docs if d.vector_id in changed or d.vector_id not in rows]
        stored = store.embeddings(fresh)
        if len(stored) != len(fresh):
            return
        kept = np.array([rows.get(d.vector_id, -1) if d.vector_id not in changed else -1 for d in new.docs])
        carried = matrix[np.maximum(kept, 0)]
        for i, d in enumerate(new.docs):
            if kept[i] < 0:
                v = stored[d.vector_id]
                carried[i] = v / (np.linalg.norm(v) or 1.0)
        _exact[new] = carried


def lexical_ranking(lexical: LexicalIndex, query: str, n: int) -> list[tuple[str, float, str]]:
    scores = lexical.scores(query)
    if scores.size == 0:
        return []
    k = min(n * 3, scores.size)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top])]
    top = top[scores[top] > 0]
    docs = lexical.docs
    pairs = [(docs[i].entry_id, score, docs[i].text) for i, score in zip(top.tolist(), scores[top].tolist(), strict=True)]
    return _best_per_entry(pairs)[:n]


def fuse(
    dense: list[tuple[str, float, str]],
    lexical: list[tuple[str, float, str]],
    weights: FusionWeights,
) -> list[tuple[str, float]]:
    """Combine two rankings of (entry id, score, text) into one, best first."""
    fused: dict[str, float] = {}
    for weight, ranking in ((weights.dense, dense), (weights.lexical, lexical)):
        if weights.method == "rrf":
            for rank, (entry_id, _, _) in enumerate(ranking, start=1):
                fused[entry_id] = fused.get(entry_id, 0.0) + weight / (weights.rrf_k + rank)
            continue
        for entry_id, z in _standardised(ranking).items():
            fused[entry_id] = fused.get(entry_id, 0.0) + weight * z
    if weights.method == "zscore":
        # An entry one signal did not return scores as that signal's weakest candidate.
        for weight, ranking in ((weights.dense, dense), (weights.lexical, lexical)):
            floor = min(_standardised(ranking).values(), default=0.0)
            returned = {entry_id for entry_id, _, _ in ranking}
            for entry_id in fused.keys() - returned:
                fused[entry_id] += weight * floor
    return sorted(fused.items(), key=lambda item: -item[1])


def _standardised(ranking: list[tuple[str, float, str]]) -> dict[str, float]:
    scores = np.array([score for _, score, _ in ranking], dtype=np.float64)
    if scores.size == 0:
        return {}
    spread = scores.std() or 1.0
    return {entry_id: float(z) for (entry_id, _, _), z in zip(ranking, (scores - scores.mean()) / spread)}


def rerank(
    fused: list[tuple[str, float]],
    passages: Passages | None,
    vector: np.ndarray,
    weights: FusionWeights,
    topic_match: Callable[[str], float] | None = None,
) -> tuple[list[tuple[str, float]], dict[str, float]]:
    """Re-rank the leading candidates by their passage match and topic; returns (ranking, passage cosines)."""
    head = fused[: weights.rerank]
    use_passages = passages is not None and bool(weights.passage)
    use_topics = topic_match is not None and bool(weights.topic)
    if len(head) < 2 or not (use_passages or use_topics):
        return fused, {}
    rest = fused[weights.rerank :]
    if use_topics and weights.topic_pool:
        # 「订了三本书，包裹里只有两本」: both rankings chase 书; the entry on missing items may
        # sit below the head, where a topic bonus cannot reach it.
        on_topic = (item for item in rest if topic_match(item[0]) == 1.0)  # type: ignore[misc]
        joining = list(islice(on_topic, weights.topic_pool))
        head = head + joining
        rest = [item for item in rest if item not in joining]
    ids = [entry_id for entry_id, _ in head]
    combined = _z(np.array([score for _, score in head]))
    cosines: dict[str, float] = {}
    if use_passages:
        found = passages.cosines(vector, ids)  # type: ignore[union-attr]
        floor = min((c for c in found if c is not None), default=0.0)
        cos = np.array([floor if c is None else c for c in found])
        combined = combined + weights.passage * _z(cos)
        cosines = {ids[i]: float(cos[i]) for i in range(len(ids))}
    if use_topics:
        combined = combined + weights.topic * np.array([topic_match(e) for e in ids])  # type: ignore[misc]
    order = np.argsort(-combined, kind="stable")
    ranked = [(ids[i], float(combined[i])) for i in order]
    return ranked + rest, cosines


def _z(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() or 1.0)


def hybrid_search(
    query: str,
    *,
    store: VectorStore,
    lexical: LexicalIndex,
    top_k: int = 5,
    weights: FusionWeights = FusionWeights(),
    passages: Passages | None = None,
) -> list[Hit]:
    """Find the entries that best answer `query`, best first."""
    query = query.strip()
    if not query:
        return []
    query_vector = store.embedder.encode_query(query)
    dense = dense_ranking(
        store, lexical, query_vector.tolist(), weights.candidates, weights.learned_penalty
    )
    lex = lexical_ranking(lexical, query, weights.candidates)
    return ranked_hits(
        query, query_vector, dense, lex, lexical=lexical, top_k=top_k, weights=weights, passages=passages
    )


def ranked_hits(
    query: str,
    query_vector: np.ndarray,
    dense: list[tuple[str, float, str]],
    lex: list[tuple[str, float, str]],
    *,
    lexical: LexicalIndex,
    top_k: int,
    weights: FusionWeights,
    passages: Passages | None,
) -> list[Hit]:
    """Fuse and re-rank the two rankings of `query` into hits. Split from `hybrid_search` so the
    gate's calibration can search its own FAQ in memory with an entry left out."""
    dense_at = {entry_id: (rank, score, text) for rank, (entry_id, score, text) in enumerate(dense, 1)}
    lex_at = {entry_id: (rank, score, text) for rank, (entry_id, score, text) in enumerate(lex, 1)}
    own = own_phrasings(lexical)

    def topic_match(entry_id: str) -> float:
        return shared(query, tuple(own.get(entry_id, ())))

    ranked, passage_cos = rerank(fuse(dense, lex, weights), passages, query_vector, weights, topic_match)
    hits = []
    for entry_id, score in ranked[:top_k]:
        meta = lexical.entries.get(entry_id)
        if meta is None:
            continue  # stored after the lexical index was built; the next sync rebuilds it
        d, l = dense_at.get(entry_id), lex_at.get(entry_id)
        hits.append(
            Hit(
                id=entry_id,
                question=str(meta["question"]),
                answer=str(meta["answer"]),
                source=str(meta["source"]),
                score=score,
                category=str(meta.get("category", "")),
                kind=meta.get("kind", "faq"),  # type: ignore[arg-type]
                matched=(d or l)[2] if (d or l) else "",  # type: ignore[index]
                dense=d[1] if d else 0.0,
                lexical=l[1] if l else 0.0,
                dense_rank=d[0] if d else None,
                lexical_rank=l[0] if l else None,
                passage=passage_cos.get(entry_id, 0.0),
            )
        )
    best = passages.sentences(np.asarray(query_vector), [h.id for h in hits]) if passages is not None else []
    for hit, found in zip(hits, best or [None] * len(hits)):
        hit.sentence = hit.passage if found is None else found
    return hits
