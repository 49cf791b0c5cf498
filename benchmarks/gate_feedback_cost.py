"""What learning from staff decisions costs the gate: a re-fit, cold and after one more decision,
and what the decision memory adds to each decision the gate makes.

    .venv/bin/python benchmarks/gate_feedback_cost.py [--decisions 100 500 2000]

The sample tea shop (synced into the same cache as gate_shops.py) with the first N labelled
questions of its question sets replayed as staff decisions (in scope: approved with the right
entry; out of scope: rejected; no learned vectors are added, so the index is the same for every
N). Timed through the product's own `shop_gate`:

* first: the first re-fit over N decisions (every decision's message embedded, searched as it
  was before it was taught and scored);
* new process: the same re-fit in a process that starts afresh (every CLI `ask`), reading the
  decisions' vectors and scores stored beside the calibration;
* one more decision: the re-fit the next `ask` runs after staff decide once more;
* after a FAQ change: the first re-fit once the FAQ's content stamp changed (the old scores stand
  in; at most `RESCORE` decisions are searched again per re-fit);
* per decision of the gate: `DecisionMemory.adjust` on 200 messages the memory has not seen
  (embedding the message included), when the fit gave the memory any weight.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gate_shops import CACHE, TEA_SETS, CachedEmbeddings, Shop, open_shop, read_questions  # noqa: E402

from bot.drafting import calibration  # noqa: E402
from bot.drafting.calibration import decisions_path, shop_gate  # noqa: E402
from bot.drafting.gate import default_gate  # noqa: E402
from bot.knowledge.embeddings import E5Embeddings  # noqa: E402
from bot.memory.learned import LabelledQuestion  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, nargs="+", default=[100, 500])
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    rows = sum((read_questions(p) for p in TEA_SETS), [])
    shop = Shop("tea", ROOT / "knowledge", rows)
    embedder = CachedEmbeddings(CACHE / "query_vectors.pkl")  # only the sync uses the cache
    kb = open_shop(shop, embedder)
    embedder.save()
    kb.embedder = E5Embeddings()  # decisions and messages embedded for real, as in a new process
    by_question = {str(m["question"]): e for e, m in kb.lexical.entries.items()}
    labelled = [LabelledQuestion(q, by_question.get(exp) if label == "in" else None,
                                 "approved" if label == "in" else "rejected")
                for label, exp, q in rows if label == "out" or exp in by_question]
    probes = [q for _, _, q in rows[-200:]]
    gate = default_gate()
    shop_gate(kb, gate)  # the FAQ's own calibration, stored: not what is timed here
    print("| decisions | first re-fit | new process | after one more decision | after a FAQ change | "
          "memory weights | memory per gate decision p50 / p95 |\n|---|---|---|---|---|---|---|")
    for n in args.decisions:
        calibration.MAX_DECISIONS = max(calibration.MAX_DECISIONS, n)
        calibration._decision_cache.clear()
        decisions_path(kb).unlink(missing_ok=True)
        started = time.perf_counter()
        shop_gate(kb, gate, labelled[:n])
        cold = time.perf_counter() - started
        calibration._decision_cache.clear()
        started = time.perf_counter()
        shop_gate(kb, gate, labelled[:n])
        fresh = time.perf_counter() - started
        started = time.perf_counter()
        fitted = shop_gate(kb, gate, labelled[: n + 1])
        warm = time.perf_counter() - started
        calibration._decision_cache["stamp"] = "an earlier FAQ"
        started = time.perf_counter()
        shop_gate(kb, gate, labelled[: n + 1])
        changed = time.perf_counter() - started
        memory = fitted.calibration.memory if fitted.calibration else None
        timing = "memory not used (no weight)"
        weights = "(0, 0)"
        if memory is not None:
            weights = f"({memory.weights[0]:.2f}, {memory.weights[1]:.2f})"
            spent = []
            for text in probes:
                memory._cache.clear()
                started = time.perf_counter()
                memory.adjust(text, None)  # no logit given: always embeds (the worst case)
                spent.append((time.perf_counter() - started) * 1000)
            spent.sort()
            timing = f"{statistics.median(spent):.1f} / {spent[int(0.95 * len(spent))]:.1f} ms"
        print(f"| {n} | {cold:.2f} s | {fresh:.2f} s | {warm:.2f} s | {changed:.2f} s | {weights} | {timing} |")


if __name__ == "__main__":
    main()
