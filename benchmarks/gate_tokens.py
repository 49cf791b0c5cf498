"""Does the message's token-by-token coverage by the entry (e5's own token states, BERTScore-style)
separate answerable questions from near misses? Offline, leave one shop out; nothing here ships.

    .venv/bin/python benchmarks/gate_tokens.py SHOP [SHOP ...] [--tea] [--layer 12] [--models SPEC ...]

A near miss shares most of an entry's words and asks about one thing the entry never mentions; an
answerable question in other words shares few of its words. Word overlap (the gate's coverage)
reads both wrong. Here every token of the message is matched to its closest token of the first
candidate (its phrasings as e5 queries, its answer as an e5 passage), by the cosine of e5's
contextual token states at `--layer`, as BERTScore's recall does, and weighted by the token's IDF
over this shop's entries (a token no entry has weighs the most):

* `tok_recall`: IDF-weighted mean over the message's tokens of the best match;
* `tok_gap`: the worst-covered token's shortfall, max over tokens of idf/max_idf × (1 − best);
* `tok_margin`: `tok_recall` minus the runner-up's.

Everything else is `gate_sentences.py`'s machinery (the product's features, a sign-bounded logistic
fitted without each held-out shop, the threshold on the training shops), so the baseline row
(`lin:`) is the shipped feature set. Token states are cached under
`$TMPDIR/dianxiaoer-gate/token_states-<layer>.pkl`.
"""

from __future__ import annotations

import argparse
import math
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
import gate_sentences as gs  # noqa: E402
from bot.drafting.gate import default_gate  # noqa: E402

SIGNALS = ("tok_recall", "tok_gap", "tok_margin")


class TokenStates:
    """e5's contextual token states at one layer, unit rows, without the special and prefix tokens."""

    def __init__(self, embedder, layer: int, cache: Path) -> None:  # type: ignore[no-untyped-def]
        import onnxruntime as ort
        from onnx import TensorProto, helper

        from bot.knowledge.e5_onnx import _graph

        model = embedder._model
        self.model = model
        graph = _graph(model._weights, model.precision)
        name = f"l{layer - 1}.x2"
        graph.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "tokens", model.dim]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.output = name
        self.path = cache / f"token_states-{layer}-{embedder.tag}.pkl"
        self.memo: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray]] = {}
        if self.path.exists():
            try:
                self.memo = pickle.loads(self.path.read_bytes())
            except Exception:
                self.memo = {}
        self.prefix = {q: len(model.token_ids("", q)) - 2 for q in (True, False)}

    def get(self, text: str, is_query: bool) -> tuple[np.ndarray, np.ndarray]:
        key = (text, is_query)
        if key not in self.memo:
            ids = self.model.token_ids(text, is_query)[:512]
            length = len(ids)
            from bot.knowledge.e5_onnx import dequantize

            words = dequantize(self.model._word[np.array([ids])])
            emb = (words + self.model._position[:length] + self.model._type).astype(np.float32)
            states = self.session.run([self.output], {"embeddings": emb})[0][0]
            keep = slice(1 + self.prefix[is_query], length - 1)
            s = states[keep]
            s = s / np.maximum(np.linalg.norm(s, axis=1, keepdims=True), 1e-6)
            self.memo[key] = (np.array(ids[keep], dtype=np.int64), s.astype(np.float16))
        return self.memo[key]

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(self.memo))
        tmp.replace(self.path)


def entry_texts(lexical, entry_id: str) -> tuple[list[str], str]:  # type: ignore[no-untyped-def]
    return list(lexical.phrasings.get(entry_id, [])), str(lexical.entries.get(entry_id, {}).get("answer", ""))


def shop_idf(states: TokenStates, lexical) -> tuple[dict[int, float], float]:  # type: ignore[no-untyped-def]
    df: dict[int, int] = {}
    ids = list(lexical.entries)
    for e in ids:
        phrasings, answer = entry_texts(lexical, e)
        seen: set[int] = set()
        for p in phrasings:
            seen.update(states.get(p, True)[0].tolist())
        seen.update(states.get(answer, False)[0].tolist())
        for t in seen:
            df[t] = df.get(t, 0) + 1
    n = len(ids)
    return {t: math.log((n + 1) / (c + 1)) + 1 for t, c in df.items()}, math.log(n + 1) + 1


def coverage(states: TokenStates, idf, top_idf: float, query: str, lexical, entry_id: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    qids, qs = states.get(query, True)
    if not len(qids):
        return 1.0, 0.0
    phrasings, answer = entry_texts(lexical, entry_id)
    parts = [states.get(p, True)[1] for p in phrasings if p != query] + [states.get(answer, False)[1]]
    parts = [p for p in parts if len(p)]
    if not parts:
        return 0.0, 1.0
    best = (qs.astype(np.float32) @ np.vstack(parts).astype(np.float32).T).max(axis=1)
    w = np.array([idf.get(int(t), top_idf) for t in qids])
    recall = float((w * best).sum() / w.sum())
    gap = float((w / top_idf * (1 - best)).max())
    return recall, gap


def token_signals(gate, data, states: TokenStates):  # type: ignore[no-untyped-def]
    idf, top = shop_idf(states, data.lexical)
    out = []
    for query, hits, view in [(q, h, data.lexical) for q, h, _e, _i in data.real] + [(t, h, v) for t, h, _e, v in data.sim]:
        ordered = gate.order(query, gf._copy(hits), view)
        r0, g0 = coverage(states, idf, top, query, data.lexical, ordered[0].id)
        r1 = coverage(states, idf, top, query, data.lexical, ordered[1].id)[0] if len(ordered) > 1 else 0.0
        out.append([r0, -g0, r0 - r1])  # gap negated: every signal speaks for answering
    out = np.array(out).reshape(-1, len(SIGNALS))
    n = len(data.real)
    return out[:n], out[n:]


def rerank_rows(data, states: TokenStates):  # type: ignore[no-untyped-def]
    """Per in-scope question with its right entry in the top five: the re-ranker's candidate rows
    plus each candidate's `tok_recall` and its distance from the best candidate's."""
    from bot.drafting.rerank import CANDIDATE_FEATURES, candidate_features

    idf, top = shop_idf(states, data.lexical)
    out = []
    for query, hits, expected, is_in in data.real:
        if not is_in or expected not in [h.question for h in hits]:
            continue
        base = candidate_features(query, hits, data.lexical)
        rec = [coverage(states, idf, top, query, data.lexical, h.id)[0] for h in hits]
        x = [[b[f] for f in CANDIDATE_FEATURES] + [r, r - max(rec)] for b, r in zip(base, rec)]
        out.append((np.array(x), np.array([int(h.question == expected) for h in hits])))
    return out


def rerank_loso(rows, extra: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    from bot.drafting.rerank import CANDIDATE_FEATURES

    names = (*CANDIDATE_FEATURES, "tok_recall", "tok_recall_gap")
    right, n, _ = gf.rerank_loso(rows, [names.index(f) for f in (*CANDIDATE_FEATURES, *extra)])
    print(f"re-rank + {','.join(extra) or 'nothing':28s} right entry first {right / max(n, 1):.4f} "
          f"of {n} with it in the top five (every shop but tea, left out in turn)", flush=True)


def main() -> None:
    from gate_shops import CACHE, opened_shops

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="*")
    parser.add_argument("--tea", action="store_true")
    parser.add_argument("--layer", type=int, default=12)
    parser.add_argument("--models", nargs="*",
                        default=["lin:", "lin:tok_recall", "lin:tok_recall,tok_gap", "lin:tok_recall,tok_gap,tok_margin"])
    parser.add_argument("--per-shop", action="store_true")
    parser.add_argument("--rerank", action="store_true", help="the re-ranker with and without the token signal instead")
    args = parser.parse_args()
    began = time.perf_counter()
    gs.SIGNALS = SIGNALS
    gf.MORE_IS_BETTER = (*gf.MORE_IS_BETTER, *ga.BETTER, *ga.RELATIVE, *SIGNALS)
    gf.MORE_IS_WORSE = (*gf.MORE_IS_WORSE, *ga.WORSE)
    with opened_shops(args.shops, tea=args.tea) as (shops, embedder):
        print(f"engine {embedder.name}, layer {args.layer}", flush=True)
        datas = [gf.collect(s) for s in shops]
        gate = default_gate()
        states = TokenStates(embedder, args.layer, CACHE)
        if args.rerank:
            try:
                rr = {d.name: rerank_rows(d, states) for d in datas}
            finally:
                states.save()
            for extra in ((), ("tok_recall",), ("tok_recall", "tok_recall_gap")):
                rerank_loso(rr, extra)
            return
        rows = {}
        try:
            for d in datas:
                r = ga.gate_rows(gate, d)
                real, sim = token_signals(gate, d, states)
                r["x"] = np.hstack([r["x"], real])
                r["sx"] = np.hstack([r["sx"], sim]) if len(r["sy"]) else np.zeros((0, r["x"].shape[1]))
                rows[d.name] = r
        finally:
            states.save()
        ga.NAMES = (*ga.NAMES, *SIGNALS)
        print(f"rows ready in {time.perf_counter() - began:.0f} s", flush=True)
        gs.alone(rows)
        results = {}
        for spec in args.models:
            results[spec] = gs.loso(rows, spec)
            gs.report(spec, results[spec])
        if args.per_shop and len(args.models) > 1:
            first, last = args.models[0], args.models[-1]
            gs.per_shop(first, results[first], last, results[last])
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
