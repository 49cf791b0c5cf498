"""One wrong staff decision against a shop's whole gate: how many of the measured half's
hand-off decisions change when one decision of the replayed half is wrong.

    .venv/bin/python benchmarks/gate_feedback_robustness.py [SHOP]   (default: the sample tea shop)

As `gate_shops.py --feedback`: every other question replayed as a staff decision, the other half
measured. Then twice more with one decision wrong: an approval of the entry staff approved most
often turned into a rejection, and the first rejection turned into an approval of that entry.
Prints only counts.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gate_fit import with_feedback  # noqa: E402
from gate_shops import (  # noqa: E402
    CACHE, TEA_SETS, CachedEmbeddings, Shop, halves, open_shop, parse_shop, read_questions, use_rules_of,
)

from bot.drafting.plan import plan_reply  # noqa: E402


def handoffs(shop, gate, rows):  # type: ignore[no-untyped-def]
    use_rules_of(shop)
    return [plan_reply(q, history=[], search=shop.search, gate=gate, lexical=shop.kb.lexical).handoff
            for _, _, q in rows]


def main() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    embedder = CachedEmbeddings(CACHE / "query_vectors.pkl")
    if len(sys.argv) > 1:
        shop = parse_shop(sys.argv[1])
    else:
        shop = Shop("tea (sample)", ROOT / "knowledge", sum((read_questions(p) for p in TEA_SETS), []))
    try:
        shop.kb = open_shop(shop, embedder)
        taught, measured = halves(shop.rows)
        base = with_feedback(shop, taught, measured, handoffs)
        common = Counter(x for label, x, _ in taught if label == "in").most_common(1)[0][0]
        approved = next(k for k, (label, x, _) in enumerate(taught) if label == "in" and x == common)
        rejected = next(k for k, (label, _, _) in enumerate(taught) if label == "out")
        wrong = {
            "an approval of the most approved entry recorded as a rejection": (approved, ("out", "", taught[approved][2])),
            "a rejection recorded as an approval of that entry": (rejected, ("in", common, taught[rejected][2])),
        }
        for name, (k, row) in wrong.items():
            after = with_feedback(shop, [*taught[:k], row, *taught[k + 1:]], measured, handoffs)
            changed = sum(a != b for a, b in zip(base, after))
            print(f"{shop.name}: {name}: {changed} of {len(measured)} measured decisions change")
    finally:
        embedder.save()


if __name__ == "__main__":
    main()
