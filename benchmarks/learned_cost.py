"""What learned phrasings cost at scale: a staff decision, and every sync's reconciling.

Fills an index with N entries of three phrasings each (random unit vectors and generated text,
written straight into Chroma with the product's metadata, so no embedding is spent on them),
plus L learned phrasings, then times through the product's own code:

* reconcile: what every sync adds (`learned_vectors` and the doctor's `learned_count`);
* a decision: `KnowledgeBase.add_learned` for one phrasing (embed it, store it, update the
  lexical index so the next search in this process uses it), and the first search after it (the
  index in use changed: whatever it computed once per index must not be computed again).

    python benchmarks/learned_cost.py --entries 1000 10000 --learned 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Settings  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.embeddings import E5Embeddings  # noqa: E402
from bot.knowledge.freshness import SyncState  # noqa: E402
from bot.knowledge.store import LEARNED  # noqa: E402

WORDS = "发货 快递 退货 包邮 发票 积分 会员 礼盒 保存 冲泡 优惠 地址 售后 破损 换货 尺码 价格 库存 门店 客服".split()


def fill(kb: KnowledgeBase, entries: int, learned: int, rng: np.random.Generator) -> list[str]:
    collection = kb.store._chroma._collection
    ids: list[str] = []
    for start in range(0, entries, 500):
        batch = range(start, min(start + 500, entries))
        rows = [(f"e{i:06d}", n) for i in batch for n in range(3)]
        vectors = rng.standard_normal((len(rows), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        texts = [f"{WORDS[i % 20]}{WORDS[(i * 7 + n) % 20]}怎么{WORDS[(i * 3 + n) % 20]}{i}" for i, n in
                 ((int(e[1:]), n) for e, n in rows)]
        collection.add(
            ids=[f"{e}:{n}" for e, n in rows],
            embeddings=vectors.tolist(),
            documents=texts,
            metadatas=[{"entry_id": e, "phrasing": n, "phrasings": 3, "hash": e, "question": t, "answer": t * 4,
                        "source": "faq.csv", "line": 0, "category": "", "tags": "", "kind": "faq"}
                       for (e, n), t in zip(rows, texts)],
        )
        ids += [f"e{i:06d}" for i in batch]
    if learned:
        vectors = rng.standard_normal((learned, 384)).astype(np.float32)
        collection.add(
            ids=[f"{ids[i]}:L{i}" for i in range(learned)],
            embeddings=(vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).tolist(),
            documents=[f"学到的问法{i}" for i in range(learned)],
            metadatas=[{"entry_id": ids[i], "phrasing": LEARNED, "learned": 1} for i in range(learned)],
        )
    # What a completed sync leaves: the lexical index and the generation it was built from.
    stamp = kb._rebuild_lexical().stamp
    SyncState.now(stamp, entries, kb.store.count()).write(kb._state_path)
    return ids


def timed(func, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--learned", type=int, default=100)
    args = parser.parse_args()
    embedder = E5Embeddings()
    rng = np.random.default_rng(0)
    for entries in args.entries:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "knowledge").mkdir()
            kb = KnowledgeBase(Settings(data_dir=root / "data", knowledge_dir=root / "knowledge", _env_file=None),
                               embedder=embedder)
            ids = fill(kb, entries, args.learned, rng)
            reconcile = timed(lambda: (kb.store.learned_vectors(), kb.store.learned_count()))
            question = "发货快递怎么退货"
            kb.search(question)  # the index in use has been searched, as a serving bot's has
            decisions, firsts = [], []
            for n in range(3):
                started = time.perf_counter()
                kb.add_learned({f"{ids[0]}:L{10**6 + n}": (ids[0], f"新学的一种问法{n}")})
                decisions.append(time.perf_counter() - started)
                started = time.perf_counter()
                kb.search(question)
                firsts.append(time.perf_counter() - started)
            search = timed(lambda: kb.search(question))
            stayed_in_step = kb.lexical.stamp == kb.generation()
            print(f"{entries} entries ({kb.store.count()} vectors, {args.learned} learned): "
                  f"reconcile on each sync {reconcile * 1000:.0f} ms; one staff decision "
                  f"{statistics.median(decisions):.3f} s; the first search after it "
                  f"{statistics.median(firsts) * 1000:.1f} ms (any other {search * 1000:.1f} ms)"
                  f"{'' if stayed_in_step else ' (the lexical index was rebuilt from Chroma)'}")


if __name__ == "__main__":
    main()
