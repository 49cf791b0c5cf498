"""Why replayed staff decisions do or do not lift the measured half: aggregate counts per cause.

    .venv/bin/python benchmarks/gate_feedback_why.py SHOP [SHOP ...] [--tea] [--loso] [--measure PREFIXES]

Shops as for `gate_shops.py`. For each measured shop, half its questions (every other line) are
replayed as staff decisions (`gate_fit.taught_index`, as `gate_shops.py --feedback` does) and the
other half is read one single search each (no clause splitting), with the shop's gate before and
after the decisions. Printed per shop and pooled, never a question:

* the shop's scale before and after (shift, scale, the decision memory's weights, the largest
  move of its own feature weights) and the shared score at which its threshold lies (memory and
  moves aside);
* in-scope questions: answered with the right entry before → after, and each change's cause —
  the first entry changed (a learned phrasing now leads, or not), or the same first entry's
  probability crossed the threshold because the features moved (a learned phrasing's closer
  cosine) or because the re-fit moved it (scale, shift, the shop's own weights);
* how many measured questions' right entry has a phrasing staff taught, and how many of those
  now match it first;
* out-of-scope questions: handed off before → after, with the same causes, and how many are now
  matched through a learned phrasing.

`--loso` scores each shop with the shared parts fitted without it (on every other shop given).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gate_fit import fit_shared, taught_index  # noqa: E402
from gate_shops import halves, opened_shops, use_rules_of  # noqa: E402

from bot.drafting.calibration import shop_gate  # noqa: E402
from bot.drafting.gate import default_gate, features, rule_out  # noqa: E402
from bot.drafting.rerank import learned_texts  # noqa: E402
from bot.knowledge.normalize import normalize_message  # noqa: E402


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def reading(gate, kb, query: str) -> dict | None:  # type: ignore[no-untyped-def]
    """One single search through the gate: first entry, shared score, probability, decision."""
    hits = kb.search(query, 5)
    if not hits:
        return None
    ordered = gate.order(query, hits, kb.lexical)
    values = features(query, ordered, kb.lexical)
    z = gate.shared_logit(values)
    ruled = rule_out(query, ordered[0], kb.lexical) is not None
    p = gate.probability(values, query, ordered[0].id)
    return {"top": ordered[0].id, "z": z, "values": values, "p": p, "ruled": ruled,
            "answered": not ruled and p >= gate.threshold,
            "learned": ordered[0].matched in learned_texts(kb.lexical)}


def shop_counts(shop, base) -> tuple[Counter, dict]:  # type: ignore[no-untyped-def]
    use_rules_of(shop)
    taught, measured = halves(shop.rows)
    by_question = {str(m["question"]): e for e, m in shop.kb.lexical.entries.items()}
    before = shop_gate(shop.kb, base)
    c: Counter = Counter()
    with taught_index(shop, taught) as (kb, decisions):
        after = shop_gate(kb, base, decisions)
        taught_entries = {by_question.get(e) for lab, e, _ in taught if lab == "in"}
        cal0, cal1 = before.calibration, after.calibration
        scale = {
            "shift": (cal0.shift, cal1.shift), "scale": (cal0.scale, cal1.scale),
            # the largest move of a feature weight, in that feature's spread over the shared fit
            "move": max((abs(m) * base.feature_scale.get(f, 0.0) for f, m in cal1.moves.items()), default=0.0),
            "memory": cal1.memory.weights if cal1.memory is not None else (0.0, 0.0),
            # the shared score at which the threshold lies, on each scale (memory aside)
            "z_at_threshold": tuple((_logit(before.threshold) - cal.shift) / cal.scale for cal in (cal0, cal1)),
        }
        for label, expected, question in measured:
            query = normalize_message(question)
            r0, r1 = reading(before, shop.kb, query), reading(after, kb, query)
            if r0 is None or r1 is None:
                continue
            # The same first entry's probability had only the re-fit changed (scale, shift and the
            # shop's own weights): the features as before the phrasings were taught.
            cross = after.calibration.logit(r0["z"], values=r0["values"])
            if label == "in":
                right = by_question.get(expected)
                c["in"] += 1
                c["in: right entry taught"] += right in taught_entries
                ok0 = r0["answered"] and r0["top"] == right
                ok1 = r1["answered"] and r1["top"] == right
                c["in: right first before"] += r0["top"] == right
                c["in: right first after"] += r1["top"] == right
                c["in: right first after, through a learned phrasing"] += r1["top"] == right and r1["learned"]
                c["in: answered right before"] += ok0
                c["in: answered right after"] += ok1
                if ok0 != ok1:
                    sign = "+" if ok1 else "-"
                    if r0["top"] != r1["top"]:
                        cause = "first entry changed" + (" (learned phrasing leads)" if r1["learned"] else "")
                    elif r0["ruled"] != r1["ruled"]:
                        cause = "rule"
                    elif (cross >= _logit(after.threshold)) == ok1:
                        cause = "same first entry, the re-fit moved it"
                    else:
                        cause = "same first entry, its features moved (learned phrasing)"
                    c[f"in {sign}: {cause}"] += 1
                if r0["top"] == right and r1["top"] == right and not r1["ruled"] and not ok1:
                    c["in: right first after but below the threshold"] += 1
                    c["in: ... of which right entry taught"] += right in taught_entries
            else:
                c["out"] += 1
                c["out: handed off before"] += not r0["answered"]
                c["out: handed off after"] += not r1["answered"]
                c["out: first through a learned phrasing after"] += r1["learned"]
                if r0["answered"] != r1["answered"]:
                    sign = "+" if not r1["answered"] else "-"
                    if r0["top"] != r1["top"]:
                        cause = "first entry changed" + (" (learned phrasing leads)" if r1["learned"] else "")
                    elif r0["ruled"] != r1["ruled"]:
                        cause = "rule"
                    elif (cross >= _logit(after.threshold)) == r1["answered"]:
                        cause = "same first entry, the re-fit moved it"
                    else:
                        cause = "same first entry, its features moved (learned phrasing)"
                    c[f"out {sign}: {cause}"] += 1
        c["decisions"] += len(decisions)
        c["decisions approved"] += sum(d.entry_id is not None for d in decisions)
    return c, scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="*")
    parser.add_argument("--tea", action="store_true")
    parser.add_argument("--loso", action="store_true")
    parser.add_argument("--measure", default="")
    args = parser.parse_args()
    prefixes = tuple(p for p in args.measure.split(",") if p)
    pooled: Counter = Counter()
    with opened_shops(args.shops, tea=args.tea) as (shops, _):
        for shop in shops:
            if prefixes and not shop.name.startswith(prefixes):
                continue
            base = fit_shared([o for o in shops if o is not shop]) if args.loso else default_gate()
            c, scale = shop_counts(shop, base)
            pooled.update(c)
            print(f"{shop.name}: shift {scale['shift'][0]:+.2f} → {scale['shift'][1]:+.2f}, scale "
                  f"{scale['scale'][0]:.2f} → {scale['scale'][1]:.2f}, memory {scale['memory'][0]:.2f} / "
                  f"{scale['memory'][1]:.2f}, largest weight move {scale['move']:.2f} logit per spread, threshold at shared score {scale['z_at_threshold'][0]:+.2f} → "
                  f"{scale['z_at_threshold'][1]:+.2f}; in {c['in: answered right before']}→{c['in: answered right after']}"
                  f" of {c['in']}, out handed {c['out: handed off before']}→{c['out: handed off after']} of {c['out']}",
                  flush=True)
    print("\npooled:")
    for key in sorted(pooled):
        print(f"  {key}: {pooled[key]}")
    print("\ncommand: .venv/bin/python benchmarks/gate_feedback_why.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
