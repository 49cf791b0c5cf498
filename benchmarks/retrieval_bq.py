"""Retrieval quality on BQ: R@1, R@5 and MRR@10 for lexical, dense and hybrid search.

Protocol (../shared/notes/faq_data.md §3): FAQ clusters from BQ dev+test positive pairs; for
each seed, a merchant-sized base of K=100 clusters is indexed through the product's own path
(a CSV in a knowledge dir → `KnowledgeBase.sync` → Chroma + the lexical index) and queried with
up to 10 members per cluster. "lexical" and "dense" are the same search with the other signal's
fusion weight set to 0, so all three rank with the product's code.

    .venv/bin/python benchmarks/retrieval_bq.py [--seeds 20] [--k 100]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._bq import Cluster, bq_faq, faq_base  # noqa: E402
from bot.knowledge.embeddings import E5Embeddings  # noqa: E402
from bot.knowledge.retrieve import FusionWeights  # noqa: E402

MODES = {
    "lexical (char uni+bigram BM25)": FusionWeights(dense=0.0, lexical=1.0),
    "dense (multilingual-e5-small)": FusionWeights(dense=1.0, lexical=0.0),
    "hybrid, reciprocal-rank fusion": FusionWeights(dense=1.0, lexical=1.0, method="rrf"),
    "hybrid (product default)": FusionWeights(),
}


def sample_trial(clusters: list[Cluster], k: int, seed: int, cap: int = 10) -> tuple[list[Cluster], list[tuple[str, int]]]:
    rng = random.Random(seed)
    chosen = [clusters[i] for i in rng.sample(range(len(clusters)), k)]
    queries = []
    for gold, cluster in enumerate(chosen):
        members = list(cluster.queries)
        if len(members) > cap:
            members = rng.sample(members, cap)
        queries += [(q, gold) for q in members]
    return chosen, queries


def run_seed(embedder: E5Embeddings, clusters: list[Cluster], k: int, seed: int, work: Path) -> dict[str, list[float]]:
    base, queries = sample_trial(clusters, k, seed)
    kb = faq_base(base, work / f"s{seed}", embedder)
    gold_question = {i: c.standard for i, c in enumerate(base)}
    out: dict[str, list[float]] = {}
    for mode, weights in MODES.items():
        kb.weights = weights
        r1 = r5 = mrr = 0.0
        for query, gold in queries:
            ranked = [h.question for h in kb.search(query, top_k=10)]
            if gold_question[gold] in ranked:
                rank = ranked.index(gold_question[gold]) + 1
                r1 += rank == 1
                r5 += rank <= 5
                mrr += 1 / rank
        n = len(queries)
        out[mode] = [r1 / n, r5 / n, mrr / n]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--k", type=int, default=100)
    args = parser.parse_args()

    clusters = bq_faq()
    embedder = E5Embeddings()
    work = Path(tempfile.mkdtemp(prefix="dx-bq-"))
    started = time.perf_counter()
    per_mode: dict[str, list[list[float]]] = {mode: [] for mode in MODES}
    try:
        for seed in range(args.seeds):
            for mode, values in run_seed(embedder, clusters, args.k, seed, work).items():
                per_mode[mode].append(values)
            print(f"seed {seed}: hybrid R@1 {per_mode['hybrid (product default)'][-1][0]:.3f}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nBQ dev+test, {len(clusters)} clusters; K={args.k}, {args.seeds} seeds, ≤10 queries per cluster")
    print(f"command: python benchmarks/retrieval_bq.py --seeds {args.seeds} --k {args.k}  ({time.perf_counter() - started:.0f} s)\n")
    print("| retrieval | R@1 | R@5 | MRR@10 |")
    print("|---|---|---|---|")
    for mode, rows in per_mode.items():
        cells = []
        for i in range(3):
            values = [row[i] for row in rows]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} ± {spread:.3f}")
        print(f"| {mode} | {' | '.join(cells)} |")
    hybrid = per_mode["hybrid (product default)"]
    r1 = statistics.mean(r[0] for r in hybrid)
    r5 = statistics.mean(r[1] for r in hybrid)
    print(f"\ntarget R@1 ≥ 0.50 and R@5 ≥ 0.82: {'met' if r1 >= 0.50 and r5 >= 0.82 else 'NOT met'} (R@1 {r1:.3f}, R@5 {r5:.3f})")


if __name__ == "__main__":
    main()
