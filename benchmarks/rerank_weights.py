"""How the re-rank weights were chosen: top-1 on shops' in-scope questions, R@1 / R@5 on BQ.

Retrieval re-ranks its ten best candidates by the question ↔ question-and-answer passage cosine
and by topic (bot/knowledge/retrieve.py). This script runs the product's own search
(`KnowledgeBase.search`, Chroma and the lexical index in a temporary dir) under several
`FusionWeights` and prints, for each:
  * the share of in-scope questions whose right entry comes first, on the sample tea shop and the
    seven shops the gate is fitted on (benchmarks/data) — what the weights are chosen on (the
    weights on the first six; the topic pool on stationery and outdoor);
  * R@1 and R@5 on BQ dev+test bases of 100 clusters (../shared/data, read in place), where an
    entry's answer repeats its question, so the passage adds nothing: the issue-2 floor
    (R@1 ≥ 0.50, R@5 ≥ 0.82) must still hold.
The shops written blind (heldout_baby, heldout_digital, heldout_fruit, heldout_flowers,
heldout_grocery) are left out on purpose; benchmarks/calibrate_gate.py reports them.

    .venv/bin/python benchmarks/rerank_weights.py [--bq-seeds 5] [--grid]
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._bq import bq_faq, faq_base  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.embeddings import E5Embeddings  # noqa: E402
from bot.knowledge.retrieve import FusionWeights  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
SHOPS = {
    "tea": (ROOT / "knowledge", DATA / "tea_shop_questions.tsv"),
    **{name: (DATA / d / "knowledge", DATA / d / "questions.tsv") for name, d in (
        ("clothing", "heldout_shop"), ("snacks", "heldout_snacks"), ("pets", "heldout_pets"),
        ("skincare", "heldout_skincare"), ("homegoods", "heldout_homegoods"),
        ("stationery", "heldout_stationery"), ("outdoor", "heldout_outdoor"))},
}


def memoised(embedder: E5Embeddings) -> E5Embeddings:
    """Each question is embedded once however many weightings are tried."""
    seen: dict[tuple[str, ...], np.ndarray] = {}
    encode: Callable[[list[str]], np.ndarray] = embedder.encode_queries

    def encode_queries(texts: list[str]) -> np.ndarray:
        key = tuple(texts)
        if key not in seen:
            seen[key] = encode(texts)
        return seen[key]

    embedder.encode_queries = encode_queries  # type: ignore[method-assign]
    return embedder


def in_scope(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return [(r["expected"].strip(), r["question"].strip()) for r in csv.DictReader(fh, delimiter="\t")
                if r["label"].strip() == "in"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bq-seeds", type=int, default=5)
    parser.add_argument("--grid", action="store_true", help="also sweep passage 0.4–1.6 × topic 0.6–2.0 (shops only)")
    args = parser.parse_args()

    default = FusionWeights()
    configs = {
        "fused ranking only": FusionWeights(passage=0.0, topic=0.0),
        "earlier re-rank (passage 0.4, topic 0.6)": FusionWeights(passage=0.4, topic=0.6),
        f"product (passage {default.passage}, topic {default.topic})": default,
        "passage 1.3, topic 1.5": FusionWeights(passage=1.3, topic=1.5),
        "product without the topic pool": FusionWeights(topic_pool=0),
    }
    named = set(configs)  # BQ is measured for these; a grid point costs a minute of BQ each
    if args.grid:
        configs |= {f"passage {p}, topic {t}": FusionWeights(passage=p, topic=t)
                    for p in (0.4, 0.6, 0.8, 1.0, 1.3, 1.6) for t in (0.6, 0.9, 1.2, 1.5, 2.0)}
    embedder = memoised(E5Embeddings())
    with tempfile.TemporaryDirectory(prefix="dx-rerank-") as tmp:
        work = Path(tmp)
        shops = []
        for name, (knowledge, questions) in SHOPS.items():
            kb = KnowledgeBase(Settings(data_dir=work / name, knowledge_dir=knowledge), embedder=embedder)
            kb.sync()
            shops.append((name, kb, in_scope(questions)))
        bq = []
        if args.bq_seeds:
            clusters = bq_faq(splits=("dev", "test"))
            for seed in range(args.bq_seeds):
                chosen = random.Random(seed).sample(range(len(clusters)), 100)
                kb = faq_base([clusters[i] for i in chosen], work / f"bq{seed}", embedder)
                bq.append((kb, [(clusters[i].standard, q) for i in chosen for q in clusters[i].queries[:10]]))

        print("| weights | " + " | ".join(name for name, _, _ in shops) + " | shops mean | BQ R@1 | BQ R@5 |")
        print("|---|" + "---|" * (len(shops) + 3))
        for label, weights in configs.items():
            tops = []
            for _, kb, rows in shops:
                kb.weights = weights
                tops.append(sum(kb.search(q, 1)[0].question == expected for expected, q in rows) / len(rows))
            r1, r5 = [], []
            for kb, rows in bq if label in named else []:
                kb.weights = weights
                got = [[h.question for h in kb.search(q, 5)] for _, q in rows]
                r1.append(statistics.mean(g[:1] == [e] for g, (e, _) in zip(got, rows)))
                r5.append(statistics.mean(e in g for g, (e, _) in zip(got, rows)))
            bq_cells = (f"{statistics.mean(r1):.3f} ± {statistics.pstdev(r1):.3f} | {statistics.mean(r5):.3f} ± {statistics.pstdev(r5):.3f}"
                        if r1 else "– | –")
            print(f"| {label} | " + " | ".join(f"{t:.3f}" for t in tops) + f" | {statistics.mean(tops):.3f} | {bq_cells} |",
                  flush=True)


if __name__ == "__main__":
    main()
