"""BQ question pairs turned into FAQ clusters (protocol: ../shared/notes/faq_data.md §3).

The data is read in place from ../shared/data/faq_eval/bq_corpus; it is not openly licensed
and is never copied into this repository.
"""

from __future__ import annotations

import collections
import csv
import random
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

BQ_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "faq_eval" / "bq_corpus"


@dataclass(frozen=True)
class Cluster:
    standard: str  # the FAQ question
    queries: tuple[str, ...]  # paraphrases a customer would type


def key(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", text).lower())


def load_pairs(splits: tuple[str, ...] = ("dev", "test")) -> list[tuple[str, str, int]]:
    if not BQ_DIR.is_dir():
        raise SystemExit(f"BQ data not found at {BQ_DIR} (it lives in ../shared/data, beside the repo)")
    pairs = []
    for split in splits:
        with (BQ_DIR / f"{split}.csv").open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            pairs += [(a.strip(), b.strip(), int(label)) for a, b, label in reader]
    return pairs


def bq_faq(splits: tuple[str, ...] = ("dev", "test")) -> list[Cluster]:
    """Union-find clusters over positive pairs, contradictory clusters dropped, hub question first."""
    pairs = [(a, b, label) for a, b, label in load_pairs(splits) if key(a) and key(b)]
    text: dict[str, str] = {}
    for a, b, _ in pairs:
        for s in (a, b):
            k = key(s)
            if k not in text or (len(s), s) < (len(text[k]), text[k]):
                text[k] = s
    parent = {k: k for k in text}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    degree: collections.Counter[str] = collections.Counter()
    for a, b, label in pairs:
        ka, kb = key(a), key(b)
        if label == 1 and ka != kb:
            degree[ka] += 1
            degree[kb] += 1
            parent[find(ka)] = find(kb)
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for k in text:
        groups[find(k)].append(k)
    contradictory = {find(key(a)) for a, b, label in pairs if label == 0 and key(a) != key(b) and find(key(a)) == find(key(b))}
    clusters = []
    for root, keys in groups.items():
        if root in contradictory or len(keys) < 2:
            continue
        keys.sort(key=lambda k: (-degree[k], len(text[k]), text[k]))
        clusters.append(Cluster(text[keys[0]], tuple(text[k] for k in keys[1:])))
    clusters.sort(key=lambda c: c.standard)
    return clusters


def sample_trial(
    clusters: list[Cluster], k: int, seed: int, cap: int = 10
) -> tuple[list[Cluster], list[tuple[str, int]]]:
    """One merchant-sized base: K clusters, and ≤cap members of each as (query, index of its cluster).

    One RNG draws the clusters and then the members, in that order (§3.3 of the notes).
    """
    rng = random.Random(seed)
    picked = rng.sample(range(len(clusters)), k) if k < len(clusters) else range(len(clusters))
    chosen = [clusters[i] for i in picked]
    queries: list[tuple[str, int]] = []
    for gold, cluster in enumerate(chosen):
        members = list(cluster.queries)
        if len(members) > cap:
            members = rng.sample(members, cap)
        queries += [(q, gold) for q in members]
    return chosen, queries


def faq_base(clusters: list[Cluster], workdir: Path, embedder: object) -> object:
    """Index the clusters' standard questions through the product's own sync, as a shop would."""
    from bot.config import Settings
    from bot.knowledge.base import KnowledgeBase

    kdir = workdir / "knowledge"
    kdir.mkdir(parents=True)
    with (kdir / "faq.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["question", "answer"])
        for cluster in clusters:
            writer.writerow([cluster.standard, cluster.standard])
    kb = KnowledgeBase(Settings(data_dir=workdir / "data", knowledge_dir=kdir), embedder=embedder)  # type: ignore[arg-type]
    kb.sync()
    return kb
