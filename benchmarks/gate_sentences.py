"""Do the answer's own sentences separate answerable questions from near misses? Offline, leave one shop out.

    .venv/bin/python benchmarks/gate_sentences.py SHOP [SHOP ...] [--tea] [--models SPEC ...] [--long N]
        [--labelled-only] [--per-shop]

The gate reads the first candidate's passage cosine: the message (e5 "query: ") against the entry's
question and answer embedded as ONE passage. A message the answer really answers should sit close
to one of the answer's sentences; a near miss (the entry's topic, asking what its answer never
states) should not. This script adds, for the first candidate after the shipped re-rank:

* `sent`: the best cosine between the message (e5 query) and one unit of the first entry's answer
  (e5 "passage: ");
* `sent_gain`: `sent` minus the first entry's passage cosine (what one sentence says that the
  blurred whole does not);
* `sent_margin`: `sent` minus the runner-up's `sent` (the second candidate after the re-rank).

Units of an answer (`answer_units`, now the product's `bot.knowledge.units.answer_units`): the
answer is split after 。！？；; ! ? and line breaks; a sentence longer than `LONG` characters is also
split after ，/, into clauses (a clause too short is joined to the next), and both the sentence and
its clauses are units. Units under 4 characters are dropped; an answer with no unit left is one
unit; at most 24 an answer (the product's cap, which none of the read FAQs reaches).

Everything else is `gate_ablate.py`'s machinery, unchanged: each shop's questions searched and
re-ranked once with the shipped re-ranker, the product's gate features, for every held-out shop a
sign-bounded logistic fitted on the other shops' rows (labelled questions no rule hands off, and
the FAQs' simulated questions at half a shop's weight; these get the new signals too, from their
own query vectors), the threshold chosen on the training shops (the best worse of the two mean
rates), and the held-out shop scored. The new signals may only speak for answering (sign bound).

Printed per pool (helper-written `blind*` shops, `heldout_*`, every shop but tea): in-scope
answered with the right entry / out-of-scope handed off pooled over the pool's questions, the
same as means over shops, the mean AUC of the held-out score on questions no rule took, the
lowest shop; then each signal's own AUC, and what embedding the units would cost at sync.

A model SPEC is `lin:` plus the added signals, comma-separated (`lin:sent,sent_gain`); `hgbN:`
fits gate_ablate's monotone trees instead. Sentence vectors are cached under
`$TMPDIR/dianxiaoer-gate/sentence_vectors-<engine>.pkl`.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gate_ablate as ga  # noqa: E402
import gate_fit as gf  # noqa: E402
from bot.drafting.gate import FEATURES, default_gate  # noqa: E402
from bot.knowledge.units import answer_units as product_units  # noqa: E402

LONG = 40  # characters: a sentence longer than this is also read clause by clause (`--long`)


def answer_units(answer: str) -> list[str]:
    """The product's units of `answer` (bot/knowledge/units.py), with this run's `LONG`."""
    return product_units(answer, long=LONG)


class UnitVectors:
    """Unit e5 passage vectors of answers' units, cached on disk beside the query vectors."""

    def __init__(self, embedder, cache: Path) -> None:  # type: ignore[no-untyped-def]
        self.embedder = embedder
        self.path = cache / f"sentence_vectors-{embedder.tag}.pkl"
        self.memo: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                self.memo = pickle.loads(self.path.read_bytes())
            except Exception:  # only a cache
                self.memo = {}
        self.embedded = 0
        self.seconds = 0.0

    def fill(self, texts: list[str]) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        for start in range(0, len(todo), 64):
            batch = todo[start:start + 64]
            began = time.perf_counter()
            vectors = self.embedder.encode_passages(batch)
            self.seconds += time.perf_counter() - began
            self.embedded += len(batch)
            for text, v in zip(batch, vectors):
                self.memo[text] = v / (np.linalg.norm(v) or 1.0)

    def best(self, q: np.ndarray, answer: str) -> float | None:
        units = answer_units(answer)
        if not units:
            return None
        return float(np.max(np.stack([self.memo[u] for u in units]) @ q))

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(self.memo))
        tmp.replace(self.path)


def sentence_signals(gate, data, units: UnitVectors, embedder):  # type: ignore[no-untyped-def]
    """The new signals of a shop's labelled questions and of its simulated ones, in gate_ablate's row order."""
    asked = [(q, hits, data.lexical) for q, hits, _e, _i in data.real] + [(t, hits, view) for t, hits, _e, view in data.sim]
    ordered = [gate.order(q, gf._copy(hits), view) for q, hits, view in asked]
    units.fill([u for o in ordered for h in o[:2] for u in answer_units(h.answer)])
    qv = embedder.encode_queries([q for q, _h, _v in asked]) if asked else np.zeros((0, 384))
    qv = qv / np.maximum(np.linalg.norm(qv, axis=1, keepdims=True), 1e-9)
    out = []
    for q, o in zip(qv, ordered):
        top = units.best(q, o[0].answer)
        top = o[0].passage if top is None else top
        second = units.best(q, o[1].answer) if len(o) > 1 else None
        second = (o[1].passage if len(o) > 1 else 0.0) if second is None else second
        out.append([top, top - o[0].passage, top - second])
    out = np.array(out).reshape(-1, len(SIGNALS))
    n = len(data.real)
    return out[:n], out[n:]


def pool_of(name: str) -> str:
    return "tea" if name.startswith("tea") else "blind" if name.startswith("blind") else "heldout"


POOLS = (("helper-written blind*", ("blind",)), ("heldout_*", ("heldout",)), ("all without tea", ("blind", "heldout")))


def loso(rows, spec: str) -> dict[str, tuple[np.ndarray, float | None]]:  # type: ignore[no-untyped-def]
    """Per held-out shop: counts (right, in, handed off, out) and the AUC of its score."""
    from sklearn.metrics import roc_auc_score

    kind, _, extra = spec.partition(":")
    feats = (*FEATURES, *(e for e in extra.split(",") if e))
    per = {}
    for k in rows:
        train = [j for j in rows if j != k]
        model = ga.fitted(rows, train, feats, kind)
        t = ga.threshold([model(rows[j]["x"]) for j in train], [rows[j] for j in train])
        r = rows[k]
        p = model(r["x"])
        keep = ~r["ruled"]
        auc = roc_auc_score(r["y"][keep], p[keep]) if len(set(r["y"][keep])) > 1 else None
        per[k] = (ga.counts(p, r, t), auc)
    return per


def report(spec: str, per) -> None:  # type: ignore[no-untyped-def]
    for title, kinds in POOLS:
        mine = {k: v for k, v in per.items() if pool_of(k) in kinds}
        c = sum((v[0] for v in mine.values()), np.zeros(4))
        rates = np.array([[v[0][0] / max(v[0][1], 1), v[0][2] / max(v[0][3], 1)] for v in mine.values()])
        aucs = [v[1] for v in mine.values() if v[1] is not None]
        print(f"  {spec:32s} {title:22s} ({int(c[1])} / {int(c[3])}): pooled {c[0] / c[1]:.3f} / {c[2] / c[3]:.3f} ({int(c[0])} / {int(c[2])}); "
              f"mean over shops {rates[:, 0].mean():.3f} / {rates[:, 1].mean():.3f}; mean AUC {np.mean(aucs):.3f}; "
              f"lowest shop {rates[:, 0].min():.3f} / {rates[:, 1].min():.3f}", flush=True)
    tea = [v for k, v in per.items() if pool_of(k) == "tea"]
    if tea:
        c, auc = tea[0]
        print(f"  {spec:32s} {'tea':22s} ({int(c[1])} / {int(c[3])}): {c[0] / c[1]:.3f} / {c[2] / c[3]:.3f}; "
              f"AUC {auc:.3f}", flush=True)


def per_shop(first: str, a, last: str, b) -> None:  # type: ignore[no-untyped-def]
    """Each held-out shop under two specs: answered right / handed off and AUC."""
    print(f"  per shop, {first} -> {last}:")
    for k in a:
        (ca, auca), (cb, aucb) = a[k], b[k]
        fa, fb = (f"{v:.3f}" if v is not None else "-" for v in (auca, aucb))
        print(f"    {k:20s} {ca[0] / max(ca[1], 1):.3f} / {ca[2] / max(ca[3], 1):.3f} AUC {fa} -> "
              f"{cb[0] / max(cb[1], 1):.3f} / {cb[2] / max(cb[3], 1):.3f} AUC {fb}")


def alone(rows) -> None:  # type: ignore[no-untyped-def]
    """Each signal's own AUC (mean over a pool's shops) on questions no rule takes."""
    from sklearn.metrics import roc_auc_score

    names = ("dense", "passage", *SIGNALS)
    for title, kinds in POOLS:
        per = []
        for k, r in rows.items():
            keep = ~r["ruled"]
            if pool_of(k) in kinds and len(set(r["y"][keep])) > 1:
                per.append([roc_auc_score(r["y"][keep], r["x"][keep][:, ga.NAMES.index(s)]) for s in names])
        m = np.mean(per, axis=0)
        print(f"  AUC alone, {title}: " + ", ".join(f"{s} {v:.3f}" for s, v in zip(names, m)))


def cost(datas, units: UnitVectors, embedder) -> None:  # type: ignore[no-untyped-def]
    """What embedding every entry's units at sync would cost."""
    entries = n_units = 0
    for d in datas:
        for entry in d.lexical.entries.values():
            entries += 1
            n_units += len(answer_units(str(entry.get("answer", ""))))
    probe = [f"{u}（{i}）" for i, u in enumerate(list(units.memo)[:256])]  # uncached texts, real lengths
    began = time.perf_counter()
    for start in range(0, len(probe), 64):
        embedder.encode_passages(probe[start:start + 64])
    rate = len(probe) / (time.perf_counter() - began)
    per_entry = n_units / max(entries, 1)
    print(f"Cost: {entries} entries over {len(datas)} FAQs have {n_units} answer units ({per_entry:.2f} per entry); "
          f"e5 passages here {rate:.1f} units/s (256 timed, batches of 64); 10,000 entries ≈ {per_entry * 10000:.0f} "
          f"units ≈ {per_entry * 10000 / rate / 60:.1f} min more for a full sync, "
          f"{per_entry * 10000 * 384 * 4 / 1e6:.0f} MB of float32 vectors", flush=True)


def main() -> None:
    from gate_shops import CACHE, opened_shops

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="*")
    parser.add_argument("--tea", action="store_true")
    parser.add_argument("--models", nargs="*",
                        default=["lin:", "lin:sent", "lin:sent,sent_gain", "lin:sent,sent_gain,sent_margin"])
    parser.add_argument("--labelled-only", action="store_true",
                        help="fit on labelled questions only (no simulated ones), as gate_ablate --sentences")
    parser.add_argument("--long", type=int, default=LONG,
                        help=f"split sentences longer than this into clauses too (default {LONG}; a large value: sentences only)")
    parser.add_argument("--per-shop", action="store_true", help="print each shop under the first and the last model")
    args = parser.parse_args()
    globals()["LONG"] = args.long
    began = time.perf_counter()
    gf.MORE_IS_BETTER = (*gf.MORE_IS_BETTER, *ga.BETTER, *ga.RELATIVE, *SIGNALS)
    gf.MORE_IS_WORSE = (*gf.MORE_IS_WORSE, *ga.WORSE)
    with opened_shops(args.shops, tea=args.tea) as (shops, embedder):
        print(f"engine {embedder.name}", flush=True)
        datas = [gf.collect(s) for s in shops]
        gate = default_gate()
        units = UnitVectors(embedder, CACHE)
        rows = {}
        for d in datas:
            r = ga.gate_rows(gate, d)
            real, sim = sentence_signals(gate, d, units, embedder)
            r["x"] = np.hstack([r["x"], real])
            r["sx"] = np.hstack([r["sx"], sim]) if len(r["sy"]) else np.zeros((0, r["x"].shape[1]))
            if args.labelled_only:
                r["sx"], r["sy"] = np.zeros((0, r["x"].shape[1])), np.zeros(0)
            rows[d.name] = r
        units.save()
        ga.NAMES = (*ga.NAMES, *SIGNALS)  # after gate_rows, which reads the shipped and candidate names
        print(f"rows ready in {time.perf_counter() - began:.0f} s; {units.embedded} units embedded this run "
              f"({units.seconds:.0f} s)", flush=True)
        alone(rows)
        results = {}
        for spec in args.models:
            results[spec] = loso(rows, spec)
            report(spec, results[spec])
        if args.per_shop and len(args.models) > 1:
            first, last = args.models[0], args.models[-1]
            per_shop(first, results[first], last, results[last])
        cost(datas, units, embedder)
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
