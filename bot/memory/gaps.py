"""Group the questions the FAQ could not answer, so maintainers see what to write next."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.knowledge.lexical import tokenize

# Paraphrases of one question sit above this cosine with multilingual-e5-small.
SAME_QUESTION = 0.92


@dataclass
class GapCluster:
    representative: str  # the most central phrasing
    count: int
    examples: list[str]


def _bigram_vectors(texts: Sequence[str]) -> np.ndarray:
    vocab: dict[str, int] = {}
    rows = [{vocab.setdefault(t, len(vocab)) for t in tokenize(x) if len(t) > 1} or {vocab.setdefault(x, len(vocab))} for x in texts]
    matrix = np.zeros((len(texts), len(vocab)), dtype=np.float32)
    for i, row in enumerate(rows):
        matrix[i, list(row)] = 1.0
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def cluster_questions(
    texts: Sequence[str],
    embed: Callable[[list[str]], np.ndarray] | None = None,
    threshold: float | None = None,
) -> list[GapCluster]:
    """Greedy single-pass clustering by cosine; most frequent cluster first.

    Without an embedder, character-bigram overlap stands in (threshold 0.5).
    """
    if not texts:
        return []
    vectors = np.asarray(embed(list(texts)) if embed else _bigram_vectors(texts), dtype=np.float32)
    limit = threshold if threshold is not None else (SAME_QUESTION if embed else 0.5)
    groups: list[list[int]] = []
    centroids: list[np.ndarray] = []
    for i, vector in enumerate(vectors):
        sims = [float(c @ vector) / (np.linalg.norm(c) or 1.0) for c in centroids]
        best = int(np.argmax(sims)) if sims else -1
        if best >= 0 and sims[best] >= limit:
            groups[best].append(i)
            centroids[best] = centroids[best] + vector
        else:
            groups.append([i])
            centroids.append(vector.copy())
    clusters = []
    for members, centroid in zip(groups, centroids):
        centre = max(members, key=lambda i: float(vectors[i] @ centroid))
        clusters.append(GapCluster(texts[centre], len(members), [texts[i] for i in members]))
    return sorted(clusters, key=lambda c: (-c.count, c.representative))
