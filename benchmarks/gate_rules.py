"""What each hand-off rule costs and catches, beside the calibrated model, on shops given as folders.

    .venv/bin/python benchmarks/gate_rules.py SHOP [SHOP ...]

For every question, through `plan_reply` as `ask` plans it, the hand-off's decider: the first rule
that fired, or the model (the calibrated probability under the shop's threshold). Printed per
decider: answerable questions whose right entry was first that it handed off (what it cost), in
how many shops, and out-of-scope questions it handed off. Only counts are printed, never a
question. The gate is the shipped one, so shops it was fitted on are in sample.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gate_shops  # noqa: E402

from bot.drafting.plan import plan_reply  # noqa: E402
from bot.knowledge.normalize import normalize_message  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shops", nargs="+", help="shop folders (knowledge/ + questions.tsv)")
    args = parser.parse_args()
    cost: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    shops_hit: dict[str, set[str]] = {}
    right_first = n_out = 0
    with gate_shops.opened_shops(args.shops, tea=False) as (shops, _):
        for shop in shops:
            assert shop.kb is not None
            gate = gate_shops.gate_of(shop)
            for label, expected, question in shop.rows:
                plan = plan_reply(question, history=[], search=shop.search, gate=gate, lexical=shop.kb.lexical)
                rules = [p.decision.rule for p in plan.pending if p.decision.rule]
                decider = (rules[0] if rules else "model") if plan.handoff else None
                if label == "out":
                    n_out += 1
                    if decider:
                        caught[decider] += 1
                    continue
                query = normalize_message(question)
                ranked = gate.order(query, shop.search(query, 5), shop.kb.lexical)
                if not ranked or ranked[0].question != expected:
                    continue
                right_first += 1
                if decider:
                    cost[decider] += 1
                    shops_hit.setdefault(decider, set()).add(shop.name)
    print(f"{len(shops)} shops: {right_first} answerable questions with the right entry first, {n_out} out of scope\n")
    print("| decider | answerable, right entry first, handed off | shops | out-of-scope handed off |")
    print("|---|---|---|---|")
    for decider in sorted(cost.keys() | caught.keys(), key=lambda d: (d != "model", -cost[d], -caught[d], d)):
        print(f"| {decider} | {cost[decider]} | {len(shops_hit.get(decider, ()))} | {caught[decider]} |")
    rules_cost = sum(v for k, v in cost.items() if k != "model")
    rules_caught = sum(v for k, v in caught.items() if k != "model")
    print(f"\nall rules: {rules_cost} answerable handed off, {rules_caught} out-of-scope handed off; "
          f"the model: {cost['model']} and {caught['model']}")


if __name__ == "__main__":
    main()
