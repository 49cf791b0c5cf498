"""No-change re-sync wall time at N entries, without minutes of embedding first.

A sync that finds nothing changed embeds nothing: it reads the files, the stored hashes and
counts, and the lexical index's stamp. So the store is built here with random unit vectors under
the bundled e5 model's name (same collection, same vector count and dimension) and the re-sync
then timed with a new `KnowledgeBase` each time (opening Chroma included), as a fresh `dianxiaoer
index` would run it, model loading excluded. `scale.py` measures the same with real embeddings, at the cost of an index.

    .venv/bin/python benchmarks/resync.py [--entries 10000] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import synthetic_entries, write_csv  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.embeddings import E5Embeddings, RecentQueries  # noqa: E402


class RandomVectors(RecentQueries):
    """Unit vectors of e5's dimension, filed under e5's name."""

    name = E5Embeddings.name

    def __init__(self) -> None:
        self._rng = np.random.default_rng(7)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        vectors = self._rng.standard_normal((len(texts), 384)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    encode_passages = encode_queries

    def embed_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0].tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_queries(texts).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        settings = Settings(data_dir=root / "data", knowledge_dir=root / "knowledge", _env_file=None)
        if not (root / "knowledge").exists():
            (root / "knowledge").mkdir(parents=True)
            write_csv(root / "knowledge" / "faq.csv", synthetic_entries(args.entries))
            started = time.perf_counter()
            report = KnowledgeBase(settings, embedder=RandomVectors()).sync()  # type: ignore[arg-type]
            print(f"built: {len(report.added)} entries, random vectors, {time.perf_counter() - started:.1f} s")
        for run in range(1, args.runs + 1):
            # Opening the store counts: a fresh `index` pays it too. CPU time (all threads) is
            # printed beside the wall time because a shared machine's load swings the latter.
            started, cpu = time.perf_counter(), time.process_time()
            report = KnowledgeBase(settings, embedder=RandomVectors()).sync()  # type: ignore[arg-type]
            print(f"no-change re-sync {run} (new KnowledgeBase): wall {time.perf_counter() - started:.2f} s, "
                  f"CPU {time.process_time() - cpu:.2f} s "
                  f"({report.unchanged} unchanged, {len(report.added) + len(report.updated)} written)")


if __name__ == "__main__":
    main()
