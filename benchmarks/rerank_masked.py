"""Does the customer's need, read without the shop's product names, pick the right entry more often?
Offline, leave one shop out; nothing here ships.

    .venv/bin/python benchmarks/rerank_masked.py SHOP [SHOP ...] [--tea]

A message names a product and asks something about it: 「一箱丑橘坏了3个退多少钱」 asks how damaged
fruit is compensated, but e5 and BM25 both lean on 丑橘 and put 「你们的丑橘甜不甜？」 first. Here the
message is read a second time with its nouns that this FAQ also uses taken out (jieba's part of
speech; the FAQ's own words, so no product list), embedded again as an e5 query, and each of the
five candidates gets the best cosine of that reading to its phrasings (`masked`) and its distance
from the best candidate's (`masked_gap`). The re-ranker (as `gate_fit.fit_reranker`, listwise,
every shop weighing the same) is fitted without each shop and scores it, with and without them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gate_fit as gf  # noqa: E402
from bot.drafting.rerank import CANDIDATE_FEATURES, candidate_features  # noqa: E402
from bot.knowledge.retrieve import exact_vectors  # noqa: E402

NOUNS = ("n", "nz", "nr", "ns", "nt", "ng", "eng")


def faq_words(lexical) -> set[str]:  # type: ignore[no-untyped-def]
    import jieba

    words: set[str] = set()
    for entry in lexical.entries.values():
        for text in (str(entry.get("question", "")), str(entry.get("answer", ""))):
            words.update(w for w in jieba.lcut(text) if len(w) >= 2)
    for doc in lexical.docs:
        words.update(w for w in jieba.lcut(doc.text) if len(w) >= 2)
    return words


def masked(query: str, words: set[str]) -> str:
    import jieba.posseg

    kept = [p.word for p in jieba.posseg.cut(query) if not (p.flag in NOUNS and p.word in words and len(p.word) >= 2)]
    text = "".join(kept).strip()
    return text if text and text != query else query


def rows_of(shop, data, embedder):  # type: ignore[no-untyped-def]
    lexical = data.lexical
    matrix = exact_vectors(shop.kb.store, lexical)
    by_entry: dict[str, list[int]] = {}
    for i, d in enumerate(lexical.docs):
        by_entry.setdefault(d.entry_id, []).append(i)
    words = faq_words(lexical)
    todo = [(q, hits, e) for q, hits, e, is_in in data.real if is_in and e in [h.question for h in hits]]
    texts = [masked(q, words) for q, _, _ in todo]
    vectors = embedder.encode_queries(texts) if texts else np.zeros((0, 384))
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    out, changed = [], 0
    for (q, hits, expected), text, v in zip(todo, texts, vectors):
        changed += text != q
        base = candidate_features(q, hits, lexical)
        m = [float(np.max(matrix[by_entry[h.id]] @ v)) if h.id in by_entry else 0.0 for h in hits]
        x = [[b[f] for f in CANDIDATE_FEATURES] + [mi, mi - max(m)] for b, mi in zip(base, m)]
        out.append((np.array(x), np.array([int(h.question == expected) for h in hits])))
    return out, changed


def loso(rows, extra: tuple[str, ...]) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    names = (*CANDIDATE_FEATURES, "masked", "masked_gap")
    right, n, _ = gf.rerank_loso(rows, [names.index(f) for f in (*CANDIDATE_FEATURES, *extra)])
    return right / max(n, 1), n


def main() -> None:
    from gate_shops import opened_shops

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="*")
    parser.add_argument("--tea", action="store_true")
    args = parser.parse_args()
    with opened_shops(args.shops, tea=args.tea) as (shops, embedder):
        rows, changed = {}, 0
        for s in shops:
            rows[s.name], c = rows_of(s, gf.collect(s), embedder)
            changed += c
        total = sum(len(v) for k, v in rows.items())
        print(f"{total} in-scope questions with the right entry among five; {changed} read differently without nouns")
        for extra in ((), ("masked",), ("masked", "masked_gap")):
            rate, n = loso(rows, extra)
            print(f"re-rank + {','.join(extra) or 'nothing':20s} right entry first {rate:.4f} of {n} (every shop but tea, left out in turn)")


if __name__ == "__main__":
    main()
