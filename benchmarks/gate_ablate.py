"""Try candidate signals and score models for the gate, leave one shop out, on fixed feature rows.

    .venv/bin/python benchmarks/gate_ablate.py SHOP [SHOP ...] [--tea] [--models SPEC ...] [--rerank SPEC ...]

A fast stand-in for `gate_shops.py --loso` when comparing ideas: each shop's questions are searched
and re-ranked once with the shipped re-ranker, their gate features (the product's `gate.features`
plus the candidate signals below) computed once, and then for every held-out shop a score model
is fitted on the other shops' rows (labelled questions and the FAQs' simulated ones, as
`gate_fit.py` does) with the threshold chosen on them, and that shop scored. No per-shop scale
and no clause splitting, so the figures sit a little apart from `gate_shops.py --loso`'s; use it
to rank ideas, then measure the one kept through `gate_shops.py --loso`. Printed: in-scope
answered with the right entry / out-of-scope handed off, pooled over every shop but the tea shop,
the mean AUC over held-out shops, and the lowest shop.

A model SPEC is `lin` (the shipped sign-bounded logistic) or `hgbN` (N gradient-boosted trees of
depth 3 with the same signs as monotonic constraints), then `:` and candidate signals to add,
comma-separated (`lin:type_miss,idf_margin`). A re-rank SPEC names candidate signals to add to the
re-ranker's (`type_hit,type_gap`); printed: right entry first, pooled over every shop but tea.

The candidate signals (none of them kept: see benchmarks/README.md, "## Gate", "### This round"):

* answer-type agreement: what the message asks for (an amount, a duration, a time or date, a
  place, a way to reach the shop, a size) against what the first entry's answer holds
  (numbers with 元 / 天 / 小时 / 点, places, phone numbers, sizes): `type_miss` for the gate,
  `type_hit` / `type_gap` for the re-ranker;
* the first entry against the others: `idf_margin` (IDF-weighted coverage over the best other),
  `x_other_cover` (the message's words this entry lacks that another candidate has), `x_dense2`,
  `x_passage_rank`;
* the message's words this FAQ never uses, weighted by informativeness: `novel_idf`;
* the entry itself: `x_ans_len`, `x_phrasings`, `x_idf_answer` / `idf_answer` (the answer alone);
* with `--sentences`: `sent`, the best cosine between the message (e5 query) and one sentence of
  the first entry's answer (e5 passages), and `sent_margin`, that against the best of the next two
  candidates. The product does not have these vectors (it embeds an entry's phrasings and one
  question-and-answer passage); they are embedded here, once per run. Simulated questions have no
  query vector, so with `--sentences` every model is fitted on the labelled questions alone;
* the re-ranker's own belief: `rerank_p`, the softmax probability of the first of the five
  (meaningful since the re-ranker is fitted listwise; "### Fitted on 25 shops");
* the first entry's closeness read against this FAQ rather than on an absolute scale
  ("### Fitted on 25 shops"): its cosine minus the median top cosine of the FAQ's own simulated
  in-scope questions (`r_dense_in`), of its near misses (`r_dense_nm`), their midpoint (`r_mid`),
  the median cosine between an entry's first phrasing and the nearest phrasing of another entry
  (`r_dense_nn`: how close the FAQ's entries sit to one another), the same for the passage
  (`r_passage_in`), and the cosine placed between near misses (0) and in-scope (1) (`z_dense`).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gate_fit as gf  # noqa: E402
from bot.drafting.gate import FEATURES, default_gate, features  # noqa: E402
from bot.drafting.rerank import CANDIDATE_FEATURES, _idf_coverage, candidate_features, term_weights  # noqa: E402
from bot.knowledge.lexical import bigrams  # noqa: E402
from bot.knowledge.normalize import normalize_message  # noqa: E402

# What the message asks for. Each is a way of asking, not a product or a trade.
_ASKS = {
    "amount": re.compile(r"多少钱|什么价|啥价|价格|价钱|几块|多少块|多少元|贵不贵|费用是|收费|收不收费|要钱|花多少|扣多少"),
    "duration": re.compile(r"多久|多长时间|几天|多少天|几个小时|几小时|多少小时|几个月|几年|多快|保质期|有效期"),
    "time": re.compile(r"几点|什么时候|啥时候|什么时间|哪天|几号|何时|最晚|最早|截止"),
    "place": re.compile(r"哪里|哪儿|在哪|什么地方|啥地方|地址|哪个城市|哪个仓|从哪"),
    "contact": re.compile(r"电话号|联系方式|怎么联系|联系电话|客服电话|微信号"),
    "size": re.compile(r"多大|多重|多长(?!时间)|多宽|多高|多粗|尺寸|尺码|容量|重量|几升|几斤|几克|多少克|多少斤|几码"),
}

_NUMBER = r"\d+(?:\.\d+)?"
# What an answer holds: the forms each kind of answer takes.
_HOLDS = {
    "amount": re.compile(rf"{_NUMBER}\s*(?:元|块|rmb)|[¥￥]\s*{_NUMBER}|免费|包邮|不收|收取|[减折]"),
    "duration": re.compile(
        rf"{_NUMBER}\s*(?:[-–~～至到]\s*{_NUMBER}\s*)?(?:个)?(?:天|日|小时|分钟|工作日|周|星期|个月|月|年)|当天|次日|隔天|[一两二三四五六七八九十半]+(?:个)?(?:天|小时|分钟|周|星期|个月|月|年)"
    ),
    "time": re.compile(
        rf"\d{{1,2}}\s*[:：]\s*\d{{2}}|{_NUMBER}\s*点|{_NUMBER}\s*月\s*{_NUMBER}|{_NUMBER}\s*[日号]|周[一二三四五六日天末]|星期[一二三四五六日天]|当天|次日|隔天|工作日|节假日|上午|下午|晚上"
    ),
    "place": re.compile(r"[省市区县镇路街道号楼仓]|门店|地址|地区|城市|线上|线下"),
    "contact": re.compile(r"\d{3,4}[-\s]?\d{3,4}[-\s]?\d{3,4}|客服|电话|微信|私信|留言|联系"),
    "size": re.compile(rf"{_NUMBER}\s*(?:cm|mm|m|厘米|毫米|米|升|l|ml|毫升|克|g|kg|千克|斤|公斤|码|寸|英寸|w|瓦)|[smlx]{{1,3}}码|尺码表|[大中小]号"),
}


def asked(text: str) -> frozenset[str]:
    """The kinds of thing `text` asks for."""
    lowered = text.lower()
    return frozenset(kind for kind, pattern in _ASKS.items() if pattern.search(lowered))


def held(answer: str) -> frozenset[str]:
    """The kinds of thing `answer` states."""
    lowered = answer.lower()
    return frozenset(kind for kind, pattern in _HOLDS.items() if pattern.search(lowered))


def type_miss(query: str, answer: str) -> float:
    """Share of the kinds `query` asks for that `answer` does not hold (0 when it asks for none)."""
    wanted = asked(query)
    if not wanted:
        return 0.0
    return len(wanted - held(answer)) / len(wanted)


def type_hit(query: str, answer: str) -> float:
    wanted = asked(query)
    return len(wanted & held(answer)) / len(wanted) if wanted else 0.0


CANDIDATES = ("rerank_p", "idf_margin", "novel_idf", "type_miss", "x_ans_len", "x_phrasings", "x_idf_answer",
              "x_other_cover", "x_dense2", "x_passage_rank")
BETTER = ("rerank_p", "idf_margin", "x_idf_answer")
WORSE = ("novel_idf", "type_miss", "x_other_cover", "x_passage_rank")


def candidate_signals(query, hits, lexical) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The candidate gate signals for hits[0] (hits in the re-ranked order)."""
    terms = term_weights(getattr(lexical, "base", lexical))
    wanted = {g: terms.weight(g) for g in bigrams(query)}
    total = sum(wanted.values()) or 1.0
    top = hits[0]
    rows = candidate_features(query, hits[:5], lexical)
    mine = set(terms.grams.get(top.id, frozenset())) | bigrams(top.answer)
    rest = {g: w for g, w in wanted.items() if g not in mine and g in terms.idf}
    other = max((sum(w for g, w in rest.items() if g in terms.grams.get(h.id, frozenset())) / total
                 for h in hits[1:5]), default=0.0)
    passages = sorted((h.passage for h in hits[:5]), reverse=True)
    own = lexical.phrasings.get(top.id, [top.question])
    logits = [h.extra.get("rerank", 0.0) for h in hits[:5]]
    return {
        # The re-ranker's softmax probability that the first of the five is the right one.
        "rerank_p": 1.0 / sum(np.exp(np.clip(np.array(logits) - logits[0], -60, 60))),
        "idf_margin": rows[0]["idf_entry"] - max((r["idf_entry"] for r in rows[1:]), default=0.0),
        "novel_idf": sum(w for g, w in wanted.items() if g not in terms.idf) / total if wanted else 1.0,
        "type_miss": type_miss(query, top.answer),
        "x_ans_len": min(len(top.answer), 400) / 400,
        "x_phrasings": min(len(own), 10) / 10,
        "x_idf_answer": _idf_coverage(wanted, frozenset(bigrams(top.answer))),
        "x_other_cover": other,
        "x_dense2": hits[1].dense if len(hits) > 1 else 0.0,
        "x_passage_rank": float(passages.index(top.passage)),
    }


_SENTENCE_END = re.compile(r"(?<=[。！？；;!?\n])")


class AnswerSentences:
    """Unit e5 passage vectors of answers' sentences, embedded on first use."""

    def __init__(self, embedder) -> None:  # type: ignore[no-untyped-def]
        self.embedder = embedder
        self.vectors: dict[str, np.ndarray] = {}

    def of(self, answer: str) -> np.ndarray:
        parts = [p.strip() for p in _SENTENCE_END.split(answer) if len(p.strip()) >= 4] or [answer]
        todo = [p for p in parts if p not in self.vectors]
        if todo:
            for text, v in zip(todo, self.embedder.encode_passages(todo)):
                self.vectors[text] = v / (np.linalg.norm(v) or 1.0)
        return np.stack([self.vectors[p] for p in parts])

    def signals(self, query: str, ordered) -> tuple[float, float]:  # type: ignore[no-untyped-def]
        q = self.embedder.encode_queries([query])[0]
        q = q / (np.linalg.norm(q) or 1.0)
        best = float((self.of(ordered[0].answer) @ q).max())
        other = max((float((self.of(h.answer) @ q).max()) for h in ordered[1:3]), default=0.0)
        return best, best - other


def add_sentences(rows, gate, data, sentences: AnswerSentences) -> None:  # type: ignore[no-untyped-def]
    values = [sentences.signals(query, gate.order(query, gf._copy(hits), data.lexical))
              for query, hits, _expected, _is_in in data.real]
    rows["x"] = np.hstack([rows["x"], np.array(values)])
    rows["sx"], rows["sy"] = np.zeros((0, rows["x"].shape[1])), np.zeros(0)


RELATIVE = ("r_dense_in", "r_dense_nm", "r_dense_nn", "r_passage_in", "r_mid", "z_dense")


def faq_references(gate, data) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Where this FAQ's own questions sit: the top cosine and passage cosine of its simulated
    in-scope questions (right entry first) and near misses, and the median cosine between an
    entry's first phrasing and the nearest phrasing of another entry."""
    dense_in, dense_nm, passage_in = [], [], []
    for text, hits, entry_id, view in data.sim:
        ordered = gate.order(text, gf._copy(hits), view)
        if entry_id is None:
            dense_nm.append(ordered[0].dense)
        elif ordered[0].id == entry_id:
            dense_in.append(ordered[0].dense)
            passage_in.append(ordered[0].passage)
    memory = data.memory
    docs = memory.lexical.docs
    owner = np.array([d.entry_id for d in docs])
    nn = []
    for entry_id, rows in memory.rows_of.items():
        r = rows[0]
        cos = memory.vectors @ memory.vectors[r]
        cos[owner == entry_id] = -2.0
        cos[memory.learned | ~memory.known] = -2.0
        nn.append(float(cos.max()))
    med = lambda v: float(np.median(v)) if v else 0.0  # noqa: E731
    return {"dense_in": med(dense_in), "dense_nm": med(dense_nm), "passage_in": med(passage_in),
            "nn": med(nn)}


def relative_signals(values: dict[str, float], ref: dict[str, float]) -> dict[str, float]:
    spread = max(ref["dense_in"] - ref["dense_nm"], 0.01)
    return {
        "r_dense_in": values["dense"] - ref["dense_in"],
        "r_dense_nm": values["dense"] - ref["dense_nm"],
        "r_dense_nn": values["dense"] - ref["nn"],
        "r_passage_in": values["passage"] - ref["passage_in"],
        "r_mid": values["dense"] - (ref["dense_in"] + ref["dense_nm"]) / 2,
        "z_dense": float(np.clip((values["dense"] - ref["dense_nm"]) / spread, -3, 3)),
    }


def gate_rows(gate, data):  # type: ignore[no-untyped-def]
    """Feature rows (shipped features, then the candidates) of a shop's real and simulated questions."""
    ref = faq_references(gate, data)

    def row(query, hits, view):  # type: ignore[no-untyped-def]
        ordered = gate.order(query, gf._copy(hits), view)
        values = {**features(query, ordered, view), **candidate_signals(query, ordered, view)}
        values.update(relative_signals(values, ref))
        return ordered, [values[f] for f in NAMES]

    xs, ys, inside, ruled = [], [], [], []
    for query, hits, expected, is_in in data.real:
        ordered, x = row(query, hits, data.lexical)
        xs.append(x)
        ys.append(int(is_in and ordered[0].question == expected))
        inside.append(int(is_in))
        ruled.append(gf.rule_out(query, ordered[0], data.lexical) is not None)
    sx, sy = [], []
    for text, hits, entry_id, view in data.sim:
        ordered, x = row(text, hits, view)
        sx.append(x)
        sy.append(int(entry_id is not None and ordered[0].id == entry_id))
    return dict(x=np.array(xs), y=np.array(ys), inside=np.array(inside), ruled=np.array(ruled, dtype=bool),
                sx=np.array(sx), sy=np.array(sy))


NAMES = (*FEATURES, *CANDIDATES, *RELATIVE)


def fitted(rows, train, feats, kind):  # type: ignore[no-untyped-def]
    idx = [NAMES.index(f) for f in feats]
    xs, ys, ws = [], [], []
    for k in train:
        r = rows[k]
        keep = ~r["ruled"]
        xs.append(r["x"][keep][:, idx]); ys.append(r["y"][keep]); ws.append(np.full(keep.sum(), 1000.0 / len(r["y"])))
        if len(r["sy"]):
            xs.append(r["sx"][:, idx]); ys.append(r["sy"])
            ws.append(np.full(len(r["sy"]), gf.SIM_WEIGHT * 1000.0 / len(r["sy"])))
    x, y, w = np.vstack(xs), np.concatenate(ys), np.concatenate(ws)
    if kind == "lin":
        coef, bias = gf._signed_logistic(x, y, w, feats)
        return lambda z: 1 / (1 + np.exp(-np.clip(z[:, idx] @ coef + bias, -60, 60)))
    from sklearn.ensemble import HistGradientBoostingClassifier

    signs = [1 if f in gf.MORE_IS_BETTER else -1 if f in gf.MORE_IS_WORSE else 0 for f in feats]
    model = HistGradientBoostingClassifier(max_iter=int(kind[3:] or 100), max_depth=3, learning_rate=0.05,
                                           monotonic_cst=signs, min_samples_leaf=40, l2_regularization=1.0)
    model.fit(x, y, sample_weight=w)
    return lambda z: model.predict_proba(z[:, idx])[:, 1]


def counts(p, r, t):  # type: ignore[no-untyped-def]
    answered = (p >= t) & ~r["ruled"]
    return np.array([(answered & (r["y"] == 1)).sum(), (r["inside"] == 1).sum(),
                     (~answered & (r["inside"] == 0)).sum(), (r["inside"] == 0).sum()])


def threshold(ps, rs) -> float:  # type: ignore[no-untyped-def]
    """As gate_fit.best_threshold: the best worse of the two rates, shops weighted alike."""
    best, value = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        c = [counts(p, r, t) for p, r in zip(ps, rs)]
        v = min(np.mean([a[0] / max(a[1], 1) for a in c]), np.mean([a[2] / max(a[3], 1) for a in c]))
        if v > value:
            best, value = float(t), v
    return best



def loso(rows, spec: str) -> None:  # type: ignore[no-untyped-def]
    from sklearn.metrics import roc_auc_score

    kind, _, extra = spec.partition(":")
    feats = (*FEATURES, *(e for e in extra.split(",") if e))
    pooled, per, aucs = np.zeros(4), {}, []
    for k in rows:
        train = [j for j in rows if j != k]
        model = fitted(rows, train, feats, kind)
        t = threshold([model(rows[j]["x"]) for j in train], [rows[j] for j in train])
        r = rows[k]
        p = model(r["x"])
        per[k] = counts(p, r, t)
        if not k.startswith("tea"):
            pooled += per[k]
        keep = ~r["ruled"]
        if len(set(r["y"][keep])) > 1:
            aucs.append(roc_auc_score(r["y"][keep], p[keep]))
    rest = [c for k, c in per.items() if not k.startswith("tea")] or list(per.values())
    if not pooled[1]:
        pooled = sum(per.values())
    blind = sum((c for k, c in per.items() if k.startswith("blind")), np.zeros(4))
    helper = (f"; helper-written (blind*) {blind[0] / blind[1]:.3f} / {blind[2] / blind[3]:.3f}"
              if blind[1] and blind[3] else "")
    print(f"{spec:40s} answered right {pooled[0] / pooled[1]:.3f}, handed off {pooled[2] / pooled[3]:.3f}; "
          f"mean AUC {np.mean(aucs):.3f}; lowest shop {min(c[0] / c[1] for c in rest):.3f} / "
          f"{min(c[2] / c[3] for c in rest):.3f}{helper}", flush=True)


def print_alone(rows, signals: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Each signal's own AUC per shop, on the questions no rule hands off."""
    from sklearn.metrics import roc_auc_score

    for name, r in rows.items():
        keep = ~r["ruled"]
        if len(set(r["y"][keep])) > 1:
            aucs = ", ".join(f"{s} {roc_auc_score(r['y'][keep], r['x'][keep][:, NAMES.index(s)]):.3f}" for s in signals)
            print(f"  {name}: AUC alone {aucs}")


def rerank_rows(shop, data):  # type: ignore[no-untyped-def]
    """Per in-scope question whose right entry is in the top five: the re-ranker's rows plus candidates."""
    terms = term_weights(data.lexical)
    out = []
    for query, hits, expected, is_in in data.real:
        if not is_in or expected not in [h.question for h in hits]:
            continue
        base = candidate_features(query, hits, data.lexical)
        wanted = {g: terms.weight(g) for g in bigrams(query)}
        ext = [(type_hit(query, h.answer), _idf_coverage(wanted, frozenset(bigrams(h.answer)))) for h in hits]
        top_type, top_answer = max(e[0] for e in ext), max(e[1] for e in ext)
        x = [[b[f] for f in CANDIDATE_FEATURES] + [e[0], e[0] - top_type, e[1], e[1] - top_answer]
             for b, e in zip(base, ext)]
        out.append((np.array(x), np.array([int(h.question == expected) for h in hits])))
    return out


RERANK_NAMES = (*CANDIDATE_FEATURES, "type_hit", "type_gap", "idf_answer", "idf_answer_gap")


def rerank_loso(rows, spec: str) -> None:  # type: ignore[no-untyped-def]
    feats = (*CANDIDATE_FEATURES, *(e for e in spec.split(",") if e))
    right, n, lowest = gf.rerank_loso(rows, [RERANK_NAMES.index(f) for f in feats])
    print(f"re-rank +{spec or 'nothing':30s} right entry first {right / max(n, 1):.3f} "
          f"(of those with it in the top five); lowest shop {lowest:.3f}", flush=True)


def main() -> None:
    from gate_shops import opened_shops

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="*")
    parser.add_argument("--tea", action="store_true")
    parser.add_argument("--models", nargs="*", default=["lin:"])
    parser.add_argument("--rerank", nargs="*", default=[])
    parser.add_argument("--sentences", action="store_true", help="add the answer-sentence signals (sent, sent_margin)")
    args = parser.parse_args()
    gf.MORE_IS_BETTER = (*gf.MORE_IS_BETTER, *BETTER, *RELATIVE)
    gf.MORE_IS_WORSE = (*gf.MORE_IS_WORSE, *WORSE)
    with opened_shops(args.shops, tea=args.tea) as (shops, embedder):
        datas = [gf.collect(s) for s in shops]
    gate = default_gate()
    if args.models:
        rows = {d.name: gate_rows(gate, d) for d in datas}
        if args.sentences:
            global NAMES
            sentences = AnswerSentences(embedder)
            for d in datas:
                add_sentences(rows[d.name], gate, d, sentences)
            embedder.save()
            NAMES = (*NAMES, "sent", "sent_margin")
            gf.MORE_IS_BETTER = (*gf.MORE_IS_BETTER, "sent", "sent_margin")
            print_alone(rows, ("sent", "dense", "passage"))
        for spec in args.models:
            loso(rows, spec)
    if args.rerank:
        rr = {d.name: rerank_rows(s, d) for s, d in zip(shops, datas)}
        for spec in args.rerank:
            rerank_loso(rr, "" if spec == "-" else spec)


if __name__ == "__main__":
    main()
