"""Do the answer's sentences put the right entry first more often? Offline, leave one shop out.

    .venv/bin/python benchmarks/rerank_sentences.py SHOP [SHOP ...] [--tea] [--variants NAME ...]
        [--gate] [--bq SEEDS]

The gate can only answer with the entry the re-ranker (`bot/drafting/rerank.py`) puts first among
the top five. Its signals read the message against each candidate's phrasings and against the
question and answer embedded as ONE passage; a message about a detail the answer states, which the
entry's question does not name, is blurred in that passage. `gate_sentences.py` found that the
best cosine between the message (e5 query) and one unit of the answer (`answer_units`: its
sentences, and the clauses of its long sentences; e5 passages) separates answerable questions
from near misses at the gate. This script gives the same reading to the re-ranker, per candidate:

* `sent`: the best cosine between the message and one unit of this candidate's answer (the
  passage cosine when the answer has no unit);
* `sent_gap`: `sent` minus the best `sent` among the five. In a softmax over one query's
  candidates it is the same signal as `sent` (they differ by a constant per query); both are
  given, as the shipped re-ranker gives `dense` and `dense_gap`, and only the L2 penalty tells
  them apart;
* `sent_lead`: `sent` minus the best `sent` among the OTHER four (positive only for the
  candidate whose answer holds the closest unit: not a linear function of the others);
* `sent_s`, `sent_s_gap`: `sent` and `sent_gap` with sentences only (no clauses).

Variants (`--variants`): `base` (the shipped twelve signals), `sent` (+ sent, sent_gap), `lead`
(+ sent, sent_gap, sent_lead), `sentonly` (+ sent_s, sent_s_gap). For every held-out shop the
re-ranker is fitted on the other shops as `gate_fit.fit_reranker` fits it (listwise: a softmax
over each query's five, every shop weighing the same, in-scope questions with the right entry
among the five), and the held-out shop's in-scope questions are re-ranked with it. Printed per
pool (19 helper-written `blind*`, 13 `heldout_*`, tea): right entry first over ALL in-scope
questions (a question whose right entry is not in the five counts as missed), pooled over the
pool's questions, and the lowest shop; then the weights each variant gets when fitted on all
shops. Nothing in `bot/` changes.

`--gate` also scores the gate on top of each variant's order: every shop's questions (and its
FAQ's simulated ones) are ordered by the re-ranker fitted without that shop, and
`gate_sentences.py`'s leave-one-shop-out gate (a sign-bounded logistic fitted on the other shops'
rows, threshold chosen on them) is fitted and measured on those rows, with the shipped 15
features and with `sent`, `sent_gain`, `sent_margin` added. (A shop's rows come from a re-ranker
that saw the held-out shop's labels: negligible against 32 shops, and it spares 33 × 33 orders.)

`--bq SEEDS` re-ranks BQ's top five (dev+test, K=100, up to 10 members per cluster, as
`retrieval_bq.py`; an entry's answer repeats its question there) with the shipped re-ranker and
with each variant fitted on all shops, and prints R@1 (R@5 does not move: only the five are
re-ordered).

Sentence vectors are `gate_sentences.py`'s, cached in `$TMPDIR/dianxiaoer-gate/`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gate_ablate as ga  # noqa: E402
import gate_fit as gf  # noqa: E402
import gate_sentences as gs  # noqa: E402
from bot.drafting.gate import Gate, default_gate  # noqa: E402
from bot.drafting.rerank import CANDIDATE_FEATURES, Reranker, candidate_features  # noqa: E402
from bot.knowledge.entries import Hit  # noqa: E402
from bot.knowledge.normalize import normalize_message  # noqa: E402

SENT_NAMES = ("sent", "sent_gap", "sent_lead", "sent_s", "sent_s_gap")
NAMES = (*CANDIDATE_FEATURES, *SENT_NAMES)
VARIANTS = {
    "base": (),
    "sent": ("sent", "sent_gap"),
    "lead": ("sent", "sent_gap", "sent_lead"),
    "sentonly": ("sent_s", "sent_s_gap"),
}
SENTENCES_ONLY = 100_000  # gate_sentences.LONG large enough that no sentence is split into clauses


def _best(units: gs.UnitVectors, q: np.ndarray, hit: Hit, long: int) -> float:
    was = gs.LONG
    gs.LONG = long
    try:
        best = units.best(q, hit.answer)
    finally:
        gs.LONG = was
    return hit.passage if best is None else best


def sentence_features(q: np.ndarray, hits: list[Hit], units: gs.UnitVectors) -> list[dict[str, float]]:
    """The new per-candidate signals of one query's hits (see the module doc)."""
    sent = [_best(units, q, h, gs.LONG) for h in hits]
    only = [_best(units, q, h, SENTENCES_ONLY) for h in hits]
    rows = []
    for i in range(len(hits)):
        others = [s for j, s in enumerate(sent) if j != i]
        rows.append({
            "sent": sent[i],
            "sent_gap": sent[i] - max(sent),
            "sent_lead": sent[i] - max(others) if others else 0.0,
            "sent_s": only[i],
            "sent_s_gap": only[i] - max(only),
        })
    return rows


def unit_query(embedder, text: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    q = embedder.encode_queries([text])[0]
    return q / (np.linalg.norm(q) or 1.0)


def fill_units(units: gs.UnitVectors, answers) -> None:  # type: ignore[no-untyped-def]
    texts = []
    for answer in answers:
        texts += gs.answer_units(answer)
        was, gs.LONG = gs.LONG, SENTENCES_ONLY
        texts += gs.answer_units(answer)
        gs.LONG = was
    units.fill(texts)


@dataclass(frozen=True)
class SentenceReranker(Reranker):
    """The shipped re-ranker's linear score over `CANDIDATE_FEATURES` plus the sentence signals."""

    units: Any = field(default=None, compare=False, hash=False)
    embedder: Any = field(default=None, compare=False, hash=False)

    def scores(self, query: str, hits, lexical) -> list[float]:  # type: ignore[no-untyped-def]
        base = candidate_features(query, hits, lexical)
        extra = sentence_features(unit_query(self.embedder, query), list(hits), self.units)
        out = []
        for b, e in zip(base, extra):
            row = {**b, **e}
            out.append(self.bias + sum(w * row[name] for name, w in self.weights.items()))
        return out


@dataclass
class ShopGroups:
    name: str
    in_scope: int  # every in-scope question of the shop, with or without its right entry in the five
    groups: list[np.ndarray] = field(default_factory=list)  # per question with it among the five: NAMES rows
    right: list[int] = field(default_factory=list)


def shop_groups(shop, data, units: gs.UnitVectors, embedder) -> ShopGroups:  # type: ignore[no-untyped-def]
    out = ShopGroups(data.name, sum(1 for label, _e, _q in shop.rows if label == "in"))
    for query, hits, expected, inside in data.real:
        names = [h.question for h in hits]
        if not inside or expected not in names:
            continue
        base = candidate_features(query, hits, data.lexical)
        extra = sentence_features(unit_query(embedder, query), hits, units)
        out.groups.append(np.array([[{**b, **e}[f] for f in NAMES] for b, e in zip(base, extra)]))
        out.right.append(names.index(expected))
    return out


def fit(shops: list[ShopGroups], feats: tuple[str, ...]) -> np.ndarray:
    """gate_fit.fit_reranker's listwise fit over `feats`, every shop weighing the same."""
    idx = [NAMES.index(f) for f in feats]
    groups, right, ws = [], [], []
    for s in shops:
        groups += [g[:, idx] for g in s.groups]
        right += s.right
        ws += [1.0 / max(len(s.groups), 1)] * len(s.groups)
    return gf._listwise(groups, right, np.array(ws))


def hits_first(s: ShopGroups, feats: tuple[str, ...], coef: np.ndarray) -> np.ndarray:
    """Per question with its right entry among the five: is it first after the re-rank."""
    idx = [NAMES.index(f) for f in feats]
    return np.array([np.argmax(g[:, idx] @ coef) == r for g, r in zip(s.groups, s.right)], dtype=bool)


def firsts(s: ShopGroups, feats: tuple[str, ...], coef: np.ndarray) -> int:
    return int(hits_first(s, feats, coef).sum())


def changes(variant: str, mine: dict[str, np.ndarray], base: dict[str, np.ndarray]) -> None:
    """Questions the variant puts right that the baseline did not, and the reverse, per pool."""
    parts = []
    for title, pool in POOLS:
        names = [k for k in mine if pool_of(k) == pool]
        if not names:
            continue
        won = sum(int((mine[k] & ~base[k]).sum()) for k in names)
        lost = sum(int((~mine[k] & base[k]).sum()) for k in names)
        up = sum(int(mine[k].sum() > base[k].sum()) for k in names)
        down = sum(int(mine[k].sum() < base[k].sum()) for k in names)
        parts.append(f"{title} +{won} -{lost} questions, {up} shops up {down} down")
    print(f"  {variant:9s} against base: " + " | ".join(parts), flush=True)


def pool_of(name: str) -> str:
    return gs.pool_of(name)


POOLS = (("19 helper-written blind*", "blind"), ("13 heldout_*", "heldout"), ("tea", "tea"))


def report_first(variant: str, got: dict[str, int], shops: list[ShopGroups]) -> dict[str, float]:
    pooled = {}
    parts = []
    for title, pool in POOLS:
        mine = [s for s in shops if pool_of(s.name) == pool]
        if not mine:
            continue
        right, n = sum(got[s.name] for s in mine), sum(s.in_scope for s in mine)
        five = sum(len(s.groups) for s in mine)
        low = min(mine, key=lambda s: got[s.name] / max(s.in_scope, 1))
        pooled[pool] = right / max(n, 1)
        parts.append(f"{title} {right / max(n, 1):.4f} ({right}/{n}; of those in the five {right / max(five, 1):.3f}; "
                     f"lowest {low.name} {got[low.name] / max(low.in_scope, 1):.3f})")
    print(f"  {variant:9s} " + " | ".join(parts), flush=True)
    return pooled


def gate_loso(datas, rerankers: dict[str, Reranker], units, embedder, label: str) -> None:  # type: ignore[no-untyped-def]
    """gate_sentences' leave-one-shop-out gate on rows ordered by each shop's own held-out re-ranker."""
    rows = {}
    for d in datas:
        gate = Gate(weights={}, bias=0.0, threshold=0.5, reranker=rerankers[d.name])
        r = ga.gate_rows(gate, d)
        real, sim = gs.sentence_signals(gate, d, units, embedder)
        r["x"] = np.hstack([r["x"], real])
        r["sx"] = np.hstack([r["sx"], sim]) if len(r["sy"]) else np.zeros((0, r["x"].shape[1]))
        rows[d.name] = r
    names = ga.NAMES
    ga.NAMES = (*names, *gs.SIGNALS)
    try:
        for spec in ("lin:", "lin:sent,sent_gain,sent_margin"):
            print(f"  order {label}, gate {spec}", flush=True)
            gs.report(spec, gs.loso(rows, spec))
    finally:
        ga.NAMES = names


def bq(seeds: int, rerankers: dict[str, Reranker], units, embedder) -> None:  # type: ignore[no-untyped-def]
    """R@1 on BQ's top five after each re-ranker (the product's search, then the re-rank plan_reply does)."""
    from benchmarks._bq import bq_faq, faq_base, sample_trial

    clusters = bq_faq(("dev", "test"))
    r1 = {name: [] for name in ("retrieval", *rerankers)}
    r5 = []
    for seed in range(seeds):
        base, queries = sample_trial(clusters, 100, seed, 10)
        with tempfile.TemporaryDirectory(prefix="dx-rerank-bq-") as tmp:
            kb = faq_base(base, Path(tmp), embedder)
            hits = [(kb.search(normalize_message(q), 5), base[gold].standard) for q, gold in queries]  # type: ignore[attr-defined]
            fill_units(units, [h.answer for hs, _g in hits for h in hs])
            r1["retrieval"].append(np.mean([bool(hs) and hs[0].question == g for hs, g in hits]))
            r5.append(np.mean([g in [h.question for h in hs] for hs, g in hits]))
            for name, rr in rerankers.items():
                top = [rr.order(normalize_message(q), [Hit(**{**vars(h), "extra": dict(h.extra)}) for h in hs], kb.lexical)  # type: ignore[attr-defined]
                       for (q, _gold), (hs, _g) in zip(queries, hits)]
                r1[name].append(np.mean([bool(t) and t[0].question == g for t, (_hs, g) in zip(top, hits)]))
        print(f"  BQ seed {seed}: " + ", ".join(f"{n} {v[-1]:.3f}" for n, v in r1.items()), flush=True)
    print(f"BQ dev+test, K=100, {seeds} seeds: R@5 {np.mean(r5):.3f} ± {np.std(r5, ddof=1) if seeds > 1 else 0:.3f}; R@1 "
          + ", ".join(f"{n} {np.mean(v):.3f} ± {np.std(v, ddof=1) if seeds > 1 else 0:.3f}" for n, v in r1.items()), flush=True)


def main() -> None:
    from gate_shops import CACHE, opened_shops

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="*")
    parser.add_argument("--tea", action="store_true")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--gate", nargs="*", default=None,
                        help="also the gate on top of these variants' orders (no names: base and the best variant)")
    parser.add_argument("--bq", type=int, default=0, help="BQ seeds to re-rank (0: none)")
    args = parser.parse_args()
    began = time.perf_counter()
    gf.MORE_IS_BETTER = (*gf.MORE_IS_BETTER, *ga.BETTER, *ga.RELATIVE, *gs.SIGNALS)
    gf.MORE_IS_WORSE = (*gf.MORE_IS_WORSE, *ga.WORSE)
    with opened_shops(args.shops, tea=args.tea) as (shops, embedder):
        print(f"engine {embedder.name}", flush=True)
        datas = [gf.collect(s) for s in shops]
        units = gs.UnitVectors(embedder, CACHE)
        fill_units(units, [h.answer for d in datas for _q, hits, _e, _i in d.real for h in hits])
        groups = [shop_groups(s, d, units, embedder) for s, d in zip(shops, datas)]
        units.save()
        print(f"rows ready in {time.perf_counter() - began:.0f} s; {units.embedded} units embedded this run", flush=True)

        print("Right entry first on each held-out shop's in-scope questions (re-ranker fitted on the other shops):")
        held_out: dict[str, dict[str, np.ndarray]] = {}
        lifts = {}
        outcome: dict[str, dict[str, np.ndarray]] = {}
        for variant in args.variants:
            feats = (*CANDIDATE_FEATURES, *VARIANTS[variant])
            got, held_out[variant], outcome[variant] = {}, {}, {}
            for k, s in enumerate(groups):
                coef = fit([o for j, o in enumerate(groups) if j != k], feats)
                held_out[variant][s.name] = coef
                outcome[variant][s.name] = hits_first(s, feats, coef)
                got[s.name] = int(outcome[variant][s.name].sum())
            lifts[variant] = report_first(variant, got, groups)
        for variant in args.variants:
            if variant != "base" and "base" in outcome:
                changes(variant, outcome[variant], outcome["base"])
        shipped = default_gate().reranker
        if shipped is not None:
            w = np.array([shipped.weights.get(f, 0.0) for f in CANDIDATE_FEATURES])
            report_first("shipped", {s.name: firsts(s, CANDIDATE_FEATURES, w) for s in groups}, groups)
            print("  (shipped: the re-ranker in gate_calibration.json, fitted on every shop: in sample)")

        print("Weights fitted on all shops:")
        everywhere: dict[str, Reranker] = {}
        for variant in args.variants:
            feats = (*CANDIDATE_FEATURES, *VARIANTS[variant])
            coef = fit(groups, feats)
            weights = {f: round(float(c), 6) for f, c in zip(feats, coef)}
            print(f"  {variant}: " + ", ".join(f"{f} {c:.3f}" for f, c in weights.items()), flush=True)
            everywhere[variant] = SentenceReranker(weights, 0.0, units=units, embedder=embedder)

        def reranker(variant: str, coef: np.ndarray) -> Reranker:
            feats = (*CANDIDATE_FEATURES, *VARIANTS[variant])
            return SentenceReranker({f: float(c) for f, c in zip(feats, coef)}, 0.0, units=units, embedder=embedder)

        if args.gate is not None and "base" in lifts:
            chosen = args.gate or ["base", max((v for v in lifts if v != "base"),
                                              key=lambda v: lifts[v].get("blind", 0.0), default="base")]
            fill_units(units, [h.answer for d in datas for _t, hits, _e, _v in d.sim for h in hits])
            for variant in dict.fromkeys(chosen):
                gate_loso(datas, {d.name: reranker(variant, held_out[variant][d.name]) for d in datas},
                          units, embedder, variant)
            units.save()
        if args.bq:
            rr: dict[str, Reranker] = {"shipped": shipped} if shipped is not None else {}
            rr.update(everywhere)
            bq(args.bq, rr, units, embedder)
            units.save()
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
