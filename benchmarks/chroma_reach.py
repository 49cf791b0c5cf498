"""How often a vector this process just wrote is left out of its own Chroma queries.

Each round copies a store synced from BEFORE, syncs AFTER into it in this process (an answer
edited, phrasings added and removed, an entry added, one removed), then queries every stored
vector with its own embedding, asking for as many neighbours as the collection holds. A vector
missing from its own query's answer is unreachable: customers asking exactly that phrasing would
not find it by meaning. Run once with `VectorStore.settle` switched off (what a bot syncing in
its own process served before) and once as shipped.

    .venv/bin/python benchmarks/chroma_reach.py --rounds 300
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.embeddings import E5Embeddings
from bot.knowledge.store import Settled, VectorStore

BEFORE = {
    "faq.csv": "问题,答案,相似问题\n"
    "包邮吗？,满 199 元包邮。,运费多少|邮费怎么算\n"
    "几天能到？,江浙沪次日达，其他地区 2–4 天。,多久到\n"
    "能开发票吗？,可以开电子发票。,\n"
    "可以退货吗？,签收七天内未拆封可退。,能退吗|不想要了\n"
    "有礼盒吗？,有，加 15 元。,\n",
    "bread.md": "# 面包\n## 吐司能放几天？\n相似问题：吐司保质期\n常温 3 天，冷冻 1 个月。\n"
    "## 蛋糕要提前订吗？\n生日蛋糕请提前 1 天预订。\n",
    "shop.jsonl": '{"question": "门店在哪？", "answer": "苏州平江路 36 号。", "similar": ["店铺地址"]}\n',
}
AFTER = {
    **BEFORE,
    "faq.csv": "问题,答案,相似问题\n"
    "包邮吗？,满 299 元包邮。,运费多少|要运费吗|偏远地区包邮吗\n"
    "几天能到？,江浙沪次日达，其他地区 2–4 天。,多久到\n"
    "能开发票吗？,可以开电子发票和纸质发票。,怎么开票\n"
    "可以退货吗？,签收七天内未拆封可退。,\n"
    "可以试吃吗？,门店每天下午有试吃。,有小样吗\n",
}


def write(kdir: Path, files: dict[str, str]) -> None:
    shutil.rmtree(kdir, ignore_errors=True)
    kdir.mkdir(parents=True)
    for name, text in files.items():
        (kdir / name).write_text(text, encoding="utf-8")


def settings(root: Path) -> Settings:
    return Settings(data_dir=root / "data", knowledge_dir=root / "knowledge", _env_file=None)


def unreachable(kb: KnowledgeBase) -> int:
    """Stored vectors its own embedding's query misses, all neighbours asked for (settle asks 10)."""
    collection = kb.store._chroma._collection
    got = collection.get(include=["embeddings"])
    n = len(got["ids"])
    found = collection.query(query_embeddings=got["embeddings"], n_results=n, include=[])
    return sum(1 for vid, ids in zip(got["ids"], found["ids"]) if vid not in ids)


def run(rounds: int, settle: bool, embedder: E5Embeddings, template: Path) -> tuple[int, int]:
    shipped = VectorStore.settle
    if not settle:
        VectorStore.settle = lambda self: Settled([], [])  # type: ignore[method-assign]
    syncs_missing = vectors_missing = 0
    try:
        for i in range(rounds):
            # A new path each time: Chroma keeps one system per path for the life of the process.
            root = template.parent / f"{'settled' if settle else 'raw'}{i}"
            shutil.copytree(template / "data", root / "data")
            write(root / "knowledge", AFTER)
            kb = KnowledgeBase(settings(root), embedder=embedder)
            kb.sync()
            lost = unreachable(kb)
            syncs_missing += lost > 0
            vectors_missing += lost
            shutil.rmtree(root)
    finally:
        VectorStore.settle = shipped  # type: ignore[method-assign]
    return syncs_missing, vectors_missing


class Repairs(logging.Handler):
    """Counts the vectors settle() found out of reach and put right."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.found = 0

    def emit(self, record: logging.LogRecord) -> None:
        # settle() warns once per fix it tries, first "reopen": that warning counts what it found.
        if "unreachable by search" in str(record.msg) and record.args and record.args[-1] == "reopen":
            self.found += int(record.args[0])  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    embedder = E5Embeddings()
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        write(template / "knowledge", BEFORE)
        KnowledgeBase(settings(template), embedder=embedder).sync()
        repairs = Repairs()
        logging.getLogger("bot.knowledge.store").addHandler(repairs)
        for settle in (False, True):
            started = time.perf_counter()
            syncs, vectors = run(args.rounds, settle, embedder, template)
            print(f"settle {'on ' if settle else 'off'}: {syncs} of {args.rounds} syncs left "
                  f"{vectors} vector(s) out of their own query ({time.perf_counter() - started:.0f} s)")
        print(f"settle found {repairs.found} written vector(s) out of reach and put them right")


if __name__ == "__main__":
    main()
