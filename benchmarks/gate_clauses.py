"""Does reading a long message clause by clause separate answerable questions better? Offline, leave one shop out.

    .venv/bin/python benchmarks/gate_clauses.py SHOP [SHOP ...] [--tea] [--min-len N] [--per-shop]

A customer writes context around the ask (「亲我上周在你们家买的那根3米6的台钓竿，今天第一次用发现第二节有点松，
这种能换吗」); the product embeds the whole message as ONE e5 query, so the ask is diluted by the
context and its cosines drop. Here a message longer than `MIN_LEN` characters is split into clauses
(`message_clauses`: after ，,。！？!?；; and spaces or line breaks; a piece shorter than `SHORT`
characters — 亲， 在吗？ — is joined to the next, a short last one to the one before), each clause
embedded as an e5 query, and for each of the five candidates after the shipped re-rank:

* `c_dense`: the best cosine of the message or one of its clauses to one of the entry's phrasings
  (the stored phrasing vectors, read from the shop's Chroma store);
* `c_sent`: the same to one sentence of the entry's answer (the stored unit vectors, which the
  current sync writes beside each passage);
* `c_passage`: the same to the entry's question-and-answer passage.

Each is at least the whole message's value, and equals it for a message of one clause. The gate
variants compared (the 17 shipped features, which include `sentence` and `sentence_margin`, plus):

1. `clauses`: `c_dense`, `c_sent` of the first candidate;
2. `clauses+margins`: also `c_dense_margin`, `c_sent_margin` (against the second candidate's);
3. `clause order`: the best clause in place of the message everywhere: every candidate's `dense`,
   `sentence` and `passage` replaced by `c_dense`, `c_sent`, `c_passage` before the shipped
   re-ranker orders them and the gate's features are read (the shipped features only).

Everything else is `gate_ablate.py`'s machinery, unchanged: for every held-out shop a sign-bounded
logistic fitted on the other shops' rows (labelled questions no rule hands off, and the FAQs'
simulated questions at half a shop's weight — single FAQ phrasings, whose clause signals are taken
to equal their whole-message ones), the new signals bounded to speak only for answering, the
threshold chosen on the training shops, the held-out shop scored. Printed per pool as
`gate_sentences.py` prints it, then how many messages were split and what it costs per ask.
Clause vectors go through the benchmarks' query-vector cache (`$TMPDIR/dianxiaoer-gate`).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gate_ablate as ga  # noqa: E402
import gate_fit as gf  # noqa: E402
import gate_sentences as gs  # noqa: E402
from bot.drafting.gate import default_gate  # noqa: E402
from bot.knowledge.embeddings import E5Embeddings  # noqa: E402
from bot.knowledge.units import joined  # noqa: E402

MIN_LEN = 12  # characters: a shorter message is read whole
SHORT = 4  # characters: a shorter piece (亲， 在吗？) says nothing on its own and joins the next
_BREAK = re.compile(r"(?<=[，,。！？!?；;\s])")
SIGNALS = ("c_dense", "c_sent", "c_dense_margin", "c_sent_margin")
VARIANTS = (("clauses", "lin:c_dense,c_sent"), ("clauses+margins", "lin:c_dense,c_sent,c_dense_margin,c_sent_margin"))


def message_clauses(message: str, min_len: int = MIN_LEN) -> list[str]:
    """The clauses of `message` (see the module doc); a short message, or one with one clause, is one."""
    message = message.strip()
    if len(message) <= min_len:
        return [message]
    clauses = joined(_BREAK.split(message), SHORT, lambda piece: len(piece.strip(" \t\r\n，,。！？!?；;")))
    return clauses if len(clauses) > 1 else [message]


class ClauseCosines:
    """Per entry of one shop, the best cosine of a set of query vectors to its phrasings, its
    answer's sentences and its passage (the shop's stored vectors)."""

    def __init__(self, data) -> None:  # type: ignore[no-untyped-def]
        memory = data.memory
        self.phrasings = {
            entry_id: memory.vectors[[r for r in rows if memory.known[r] and not memory.learned[r]]]
            for entry_id, rows in memory.rows_of.items()
        }
        self.passages = memory.passages

    def best(self, vectors: np.ndarray, entry_id: str) -> tuple[float | None, float | None, float | None]:
        phr = self.phrasings.get(entry_id)
        dense = float((phr @ vectors.T).max()) if phr is not None and len(phr) else None
        units = self.passages.units.get(entry_id) if self.passages is not None else None
        sent = float((units @ vectors.T).max()) if units is not None and len(units) else None
        row = self.passages.row.get(entry_id) if self.passages is not None else None  # type: ignore[attr-defined]
        passage = float((self.passages.vectors[row] @ vectors.T).max()) if row is not None else None
        return dense, sent, passage


def clause_hits(hits, vectors: np.ndarray | None, cosines: ClauseCosines):  # type: ignore[no-untyped-def]
    """Copies of `hits` whose dense / sentence / passage are the best of the message and its clauses."""
    out = gf._copy(hits)
    if vectors is None:
        return out
    for h in out:
        dense, sent, passage = cosines.best(vectors, h.id)
        h.dense = max(h.dense, dense) if dense is not None else h.dense
        h.sentence = max(h.sentence, sent) if sent is not None else h.sentence
        h.passage = max(h.passage, passage) if passage is not None else h.passage
    return out


def clause_vectors(queries: list[str], embedder, min_len: int) -> list[np.ndarray | None]:  # type: ignore[no-untyped-def]
    """Each message's clause query vectors (unit length), or None for a message read whole."""
    split = [message_clauses(q, min_len) for q in queries]
    todo = [c for cs in split if len(cs) > 1 for c in cs]
    if todo:
        embedder.encode_queries(todo)  # fills the cache in one batch
    out: list[np.ndarray | None] = []
    for cs in split:
        if len(cs) < 2:
            out.append(None)
            continue
        v = embedder.encode_queries(cs)
        out.append(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9))
    return out


def clause_signals(gate, data, vectors, cosines: ClauseCosines) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """The signals of the labelled questions (first and second candidate after the shipped re-rank)
    and of the simulated ones (their whole-message values), in gate_ablate's row order."""
    real = []
    for (query, hits, _e, _i), v in zip(data.real, vectors):
        ordered = gate.order(query, gf._copy(hits), data.lexical)
        top = clause_hits(ordered[:2], v, cosines)
        second = top[1] if len(top) > 1 else None
        real.append([top[0].dense, top[0].sentence,
                     top[0].dense - (second.dense if second else 0.0),
                     top[0].sentence - (second.sentence if second else 0.0)])
    sim = []
    for text, hits, _entry, view in data.sim:
        o = gate.order(text, gf._copy(hits), view)
        sim.append([o[0].dense, o[0].sentence, o[0].dense - (o[1].dense if len(o) > 1 else 0.0),
                    o[0].sentence - (o[1].sentence if len(o) > 1 else 0.0)])
    return np.array(real).reshape(-1, len(SIGNALS)), np.array(sim).reshape(-1, len(SIGNALS))


def cost(queries: list[str], min_len: int) -> None:
    """Clauses per split message and the time to embed them, one message per call as `ask` would,
    with the product's e5 (uncached)."""
    split = [cs for cs in (message_clauses(q, min_len) for q in dict.fromkeys(queries)) if len(cs) > 1]
    if not split:
        print("Cost: no message was split")
        return
    plain = E5Embeddings()
    plain.encode_queries(["预热"])
    sample = split[:: max(len(split) // 200, 1)][:200]
    began = time.perf_counter()
    for cs in sample:
        plain.encode_queries([f"{c}" for c in cs])
    per_ask = (time.perf_counter() - began) / len(sample) * 1000
    clauses = sum(len(cs) for cs in sample) / len(sample)
    one = time.perf_counter()
    for cs in sample[:100]:
        plain.encode_queries([cs[0]])
    per_query = (time.perf_counter() - one) / len(sample[:100]) * 1000
    print(f"Cost: {len(sample)} split messages timed, {clauses:.2f} clauses each: {per_ask:.1f} ms per ask to embed "
          f"its clauses in one batch ({per_ask / clauses:.1f} ms a clause); one e5 query alone {per_query:.1f} ms",
          flush=True)


def main() -> None:
    from gate_shops import opened_shops

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="*")
    parser.add_argument("--tea", action="store_true")
    parser.add_argument("--min-len", type=int, default=MIN_LEN,
                        help=f"read messages longer than this clause by clause (default {MIN_LEN})")
    parser.add_argument("--per-shop", action="store_true", help="print each shop, baseline against clauses+margins")
    args = parser.parse_args()
    began = time.perf_counter()
    gf.MORE_IS_BETTER = (*gf.MORE_IS_BETTER, *ga.BETTER, *ga.RELATIVE, *SIGNALS)
    gf.MORE_IS_WORSE = (*gf.MORE_IS_WORSE, *ga.WORSE)
    with opened_shops(args.shops, tea=args.tea) as (shops, embedder):
        print(f"engine {embedder.name}; messages over {args.min_len} characters read clause by clause", flush=True)
        datas = [gf.collect(s) for s in shops]
        for d in datas:
            if not d.memory.passages or not d.memory.passages.units:
                raise SystemExit(f"{d.name}: its store has no answer sentence vectors (synced by older code); "
                                 "sync it with the current code (a fresh $TMPDIR)")
        gate = default_gate()
        rows, swapped, queries, split_rows = {}, {}, [], {}
        n_msgs = n_split = n_clauses = 0
        for d in datas:
            cosines = ClauseCosines(d)
            vectors = clause_vectors([q for q, _h, _e, _i in d.real], embedder, args.min_len)
            embedder.save()
            queries += [q for q, _h, _e, _i in d.real]
            n_msgs += len(vectors)
            n_split += sum(v is not None for v in vectors)
            split_rows[d.name] = np.array([v is not None for v in vectors], dtype=bool)
            n_clauses += sum(len(v) for v in vectors if v is not None)
            r = ga.gate_rows(gate, d)
            real, sim = clause_signals(gate, d, vectors, cosines)
            swapped[d.name] = ga.gate_rows(gate, _with_clauses(d, vectors, cosines))
            r["x"] = np.hstack([r["x"], real])
            r["sx"] = np.hstack([r["sx"], sim]) if len(r["sy"]) else np.zeros((0, r["x"].shape[1]))
            rows[d.name] = r
        print(f"rows ready in {time.perf_counter() - began:.0f} s; {n_split} of {n_msgs} labelled messages split "
              f"({n_clauses / max(n_split, 1):.2f} clauses each)", flush=True)
        names = ga.NAMES
        changed = sum(int(a != b) for d in datas
                      for a, b in zip(rows[d.name]["y"], swapped[d.name]["y"]))
        print(f"clause order: {changed} labelled messages change whether the right entry is first", flush=True)
        alone(rows, split_rows)
        results = {"baseline (shipped 17)": gs.loso(rows, "lin:")}
        gs.report("baseline (shipped 17)", results["baseline (shipped 17)"])
        ga.NAMES = (*names, *SIGNALS)  # after gate_rows, which reads the shipped and candidate names
        for title, spec in VARIANTS:
            results[title] = gs.loso(rows, spec)
            gs.report(title, results[title])
        weights(rows, VARIANTS[-1][1])
        ga.NAMES = names
        results["clause order"] = gs.loso(swapped, "lin:")
        gs.report("clause order", results["clause order"])
        if args.per_shop:
            gs.per_shop("baseline", results["baseline (shipped 17)"], "clauses+margins", results["clauses+margins"])
        cost(queries, args.min_len)
    print(f"total {time.perf_counter() - began:.0f} s")


def alone(rows, split) -> None:  # type: ignore[no-untyped-def]
    """Each signal's own AUC on the split messages no rule takes (mean over a pool's shops)."""
    from sklearn.metrics import roc_auc_score

    pairs = (("dense", "c_dense"), ("sentence", "c_sent"))
    for title, kinds in gs.POOLS:
        per = []
        for k, r in rows.items():
            keep = ~r["ruled"] & split[k]
            if gs.pool_of(k) in kinds and len(set(r["y"][keep])) > 1:
                x = r["x"][keep]
                per.append([roc_auc_score(r["y"][keep], x[:, col]) for pair in pairs for col in
                            (ga.NAMES.index(pair[0]), len(ga.NAMES) + SIGNALS.index(pair[1]))])
        m = np.mean(per, axis=0)
        print(f"  AUC alone on split messages, {title}: dense {m[0]:.3f} -> c_dense {m[1]:.3f}, "
              f"sentence {m[2]:.3f} -> c_sent {m[3]:.3f}", flush=True)


def weights(rows, spec: str) -> None:  # type: ignore[no-untyped-def]
    """The sign-bounded logistic fitted on every shop: what each signal weighs (standardised)."""
    feats = (*ga.FEATURES, *(e for e in spec.partition(":")[2].split(",") if e))
    idx = [ga.NAMES.index(f) for f in feats]
    xs, ys, ws = [], [], []
    for r in rows.values():
        keep = ~r["ruled"]
        xs.append(r["x"][keep][:, idx]); ys.append(r["y"][keep]); ws.append(np.full(keep.sum(), 1000.0 / len(r["y"])))
        if len(r["sy"]):
            xs.append(r["sx"][:, idx]); ys.append(r["sy"])
            ws.append(np.full(len(r["sy"]), gf.SIM_WEIGHT * 1000.0 / len(r["sy"])))
    x = np.vstack(xs)
    coef, _bias = gf._signed_logistic(x, np.concatenate(ys), np.concatenate(ws), feats)
    sd = x.std(axis=0)
    print("  fitted on every shop, weight x spread: " + ", ".join(
        f"{f} {c * s:.2f}" for f, c, s in zip(feats, coef, sd)), flush=True)


def _with_clauses(data, vectors, cosines: ClauseCosines):  # type: ignore[no-untyped-def]
    """A copy of the shop's data whose labelled questions' hits carry the clause cosines."""
    copy = gf.ShopData(data.name, sim=data.sim)
    copy.real = [(q, clause_hits(hits, v, cosines), e, i) for (q, hits, e, i), v in zip(data.real, vectors)]
    copy.lexical, copy.memory = data.lexical, data.memory  # type: ignore[attr-defined]
    return copy


if __name__ == "__main__":
    main()
