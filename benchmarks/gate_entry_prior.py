"""Would a per-entry record of staff decisions lean the gate usefully? Offline, in sample.

    .venv/bin/python benchmarks/gate_entry_prior.py K SHOP [SHOP ...]

Idea: an entry that staff keep rejecting drafts for (a generic price list that attracts every
price question) should need more confidence; one they keep approving, less. Per shop, as
`gate_shops.py --feedback` splits it, the taught half's model-decided questions give each first
entry E a count of right answers s_E of n_E; the measured half's logit moves by
w * (logit((s_E + K p0) / (n_E + K)) - logit(p0)), p0 the taught half's right rate, and is held
against the shop's threshold (rules still hand off). Printed: answered with the right entry /
out-of-scope handed off, pooled, for a few w. The shipped gate (its shared parts fitted on these
shops: in sample) decides without the shop's decisions otherwise.
"""

import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from gate_shops import gate_of, halves, opened_shops, use_rules_of  # noqa: E402

from bot.knowledge.normalize import normalize_message  # noqa: E402

W = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def decided(shop, gate, rows):  # type: ignore[no-untyped-def]
    """Per question: label, right entry first, first entry, probability, ruled out, threshold."""
    lexical = shop.kb.lexical
    out = []
    for label, expected, question in rows:
        query = normalize_message(question)
        hits = shop.search(query, 5)
        if not hits:
            out.append((label, False, None, 0.0, True, gate.threshold))
            continue
        ordered = gate.order(query, hits, lexical)
        decision = gate.decide(query, ordered, lexical)
        right = label == "in" and ordered[0].question == expected
        out.append((label, right, ordered[0].id, decision.confidence, decision.rule is not None,
                    decision.threshold or gate.threshold))
    return out


def main() -> None:
    k = float(sys.argv[1])
    totals = {w: np.zeros(4) for w in W}  # right, in, handed off, out
    with opened_shops(sys.argv[2:], tea=False) as (shops, _):
        for shop in shops:
            gate = gate_of(shop)
            use_rules_of(shop)
            taught, measured = halves(shop.rows)
            model = [r for r in decided(shop, gate, taught) if not r[4]]
            p0 = (sum(r[1] for r in model) + 1) / (len(model) + 2)
            right: dict[str, int] = {}
            seen: dict[str, int] = {}
            for r in model:
                right[r[2]] = right.get(r[2], 0) + r[1]
                seen[r[2]] = seen.get(r[2], 0) + 1
            for label, is_right, top, p, ruled, threshold in decided(shop, gate, measured):
                lean = logit((right.get(top, 0) + k * p0) / (seen.get(top, 0) + k)) - logit(p0)
                for w in W:
                    answered = not ruled and 1 / (1 + math.exp(-(logit(p) + w * lean))) >= threshold
                    if label == "in":
                        totals[w] += (answered and is_right, 1, 0, 0)
                    else:
                        totals[w] += (0, 0, not answered, 1)
    for w in W:
        c = totals[w]
        print(f"K={k:g} w={w}: answered right {c[0] / c[1]:.3f}, handed off {c[2] / c[3]:.3f} "
              f"({int(c[1])} in / {int(c[3])} out)")


if __name__ == "__main__":
    main()
